package testrestore

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// FuzzDecodeResult: a recorded result that decodes survives a round trip;
// anything else is an error, never a panic.
func FuzzDecodeResult(f *testing.F) {
	good := &Result{Version: resultVersion, Started: time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC), Duration: time.Second,
		Sample: 7, Take: 2, Disks: 1, Volumes: 3, Dirs: 10, Files: 100, FilesRead: 30, Bytes: 1 << 20, IndexEntries: 110}
	b, _ := json.Marshal(good)
	f.Add(b)
	bad := *good
	bad.OK, bad.Problems = false, []Problem{{Path: "disk0/p1/a", What: "read", Err: "corrupt"}}
	b, _ = json.Marshal(&bad)
	f.Add(b)
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"sample":1,"take":1,"ok":true,"bytes":-1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"version":1,"sample":1,"take":1,"ok":true,"problems":[],"warnings":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := decodeResult(b)
		if err != nil {
			return
		}
		again, _ := json.Marshal(res)
		res2, err := decodeResult(again)
		if err != nil || !reflect.DeepEqual(res, res2) {
			t.Fatalf("round trip of %+v: %+v, %v", res, res2, err)
		}
	})
}
