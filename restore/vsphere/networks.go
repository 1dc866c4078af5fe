package vsphere

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// networks maps the captured NICs' networks onto networks of the target
// datacenter: through --network-map, else the network of the same name
// (or, for a distributed port group, the same key).
type networks struct {
	finder *find.Finder
	dc     string
	m      map[string]string // captured name or port group key -> target network
	used   map[string]bool   // keys of m some NIC used
	seen   []string          // captured networks, for messages
}

func newNetworks(f *find.Finder, dc string, m map[string]string) *networks {
	return &networks{finder: f, dc: dc, m: m, used: map[string]bool{}}
}

// captured names the network of a captured NIC backing.
func captured(b types.BaseVirtualDeviceBackingInfo) (string, bool) {
	switch b := b.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		return b.DeviceName, false
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		return b.Port.PortgroupKey, true
	case *types.VirtualEthernetCardOpaqueNetworkBackingInfo:
		return b.OpaqueNetworkId, false
	}
	return "", false
}

// backing returns the backing for a NIC that was on old's network.
func (n *networks) backing(ctx context.Context, nic string, old types.BaseVirtualDeviceBackingInfo) (types.BaseVirtualDeviceBackingInfo, error) {
	from, isKey := captured(old)
	if from == "" {
		return nil, fmt.Errorf("%s: its network backing %T is not one this restore maps", nic, old)
	}
	n.seen = append(n.seen, from)
	to, mapped := n.m[from]
	if mapped {
		n.used[from] = true
	}
	var net object.NetworkReference
	var err error
	switch {
	case !mapped && isKey:
		net, err = n.byKey(ctx, from)
	default:
		if !mapped {
			to = from
		}
		net, err = n.finder.Network(ctx, to)
	}
	if err != nil {
		return nil, fmt.Errorf("%s was on network %q: target network %q not found in datacenter %q (map it with --network-map %s=NETWORK): %w", nic, from, to, n.dc, from, err)
	}
	b, err := net.EthernetCardBackingInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: network %q: %w", nic, to, err)
	}
	return b, nil
}

// byKey finds the distributed port group with key.
func (n *networks) byKey(ctx context.Context, key string) (object.NetworkReference, error) {
	all, err := n.finder.NetworkList(ctx, "*")
	if err != nil {
		return nil, err
	}
	for _, net := range all {
		if net.Reference().Value == key {
			return net, nil
		}
	}
	return nil, fmt.Errorf("no distributed port group with key %q", key)
}

// unused is an error naming --network-map entries no NIC needed.
func (n *networks) unused() error {
	var bad []string
	for k := range n.m {
		if !n.used[k] {
			bad = append(bad, fmt.Sprintf("%q", k))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("--network-map names %s, which no NIC of the VM was on (its networks: %q)", strings.Join(bad, ", "), n.seen)
}
