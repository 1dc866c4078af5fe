package mem_test

import (
	"testing"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/backend/backendtest"
	"github.com/vmarchive/vmarchive/catalog/backend/mem"
)

func TestSuite(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return mem.New() })
}
