// Package format holds the repository's on-disk structures: chunk ids and
// their stored encoding, chunk-map blocks, point manifests, the repository
// config, point names and the catalog's key layout. It does no I/O; package
// catalog, whose doc.go describes the layout, does. Keeping the decoders
// here, away from pebble, keeps them cheap to fuzz.
package format
