package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigErrors: each bad config is refused with the file, the line
// and the key.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	os.Mkdir(images, 0o700)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	rules := filepath.Join(dir, "rules")
	os.WriteFile(rules, []byte("note *.LOCKED\nentropy-shar 0.5\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "tok"), []byte("0123456789abcdef0123\n"), 0o600)
	good := "repo: /srv/r\njobs:\n  - name: kvm\n    images: {dir: " + images + "}\n    schedule: \"@hourly\"\n"
	for _, tc := range []struct{ name, text, want string }{
		{"unknown top key", "repo: /r\nlimts: {}\njobs: []\n", `:2: unknown key "limts"`},
		{"unknown job key", good + "    schedul: x\n", `:6: unknown key "schedul"`},
		{"bad cron", strings.Replace(good, `"@hourly"`, `"61 * * * *"`, 1), `:5: jobs[0].schedule: "61 * * * *"`},
		{"bad duration", good + "    rpo: 3days\n", `:6: jobs[0].rpo: "3days" is not a positive duration`},
		{"bad time zone", good + "    time-zone: Mars/Olympus\n", `:6: jobs[0].time-zone: "Mars/Olympus"`},
		{"missing password file", "repo: /r\njobs:\n  - name: prod\n    vsphere:\n      url: https://vc/sdk\n      folder: /DC/vm\n      password-file: " + filepath.Join(dir, "nope") + "\n    schedule: \"@daily\"\n",
			`:7: jobs[0].vsphere.password-file: stat ` + filepath.Join(dir, "nope")},
		{"password in url", "repo: /r\njobs:\n  - name: prod\n    vsphere:\n      url: https://u:pw@vc/sdk\n      folder: /DC/vm\n      password-file: " + pw + "\n    schedule: \"@daily\"\n",
			`:5: jobs[0].vsphere.url: holds a password`},
		{"no dir", "repo: /r\njobs:\n  - name: kvm\n    images: {dir: " + filepath.Join(dir, "none") + "}\n    schedule: \"@hourly\"\n", `:4: jobs[0].images.dir:`},
		{"bad test-restore", good + "    test-restore: sometimes\n", `:6: jobs[0].test-restore: "sometimes"`},
		{"empty retention", good + "    retention: {}\n", `:6: jobs[0].retention: no keep-* rule`},
		{"bad int", good + "    retention: {keep-daily: x}\n", `:6: cannot unmarshal`},
		{"only locks", good + "    retention: {lock: true, lock-days: 3}\n", `:6: jobs[0].retention: no keep-* rule`},
		{"negative lock-days", good + "    retention: {keep-last: 1, lock-days: -3}\n", `:6: jobs[0].retention.lock-days: -3`},
		{"twice", good + "  - name: kvm\n    images: {dir: " + images + "}\n    schedule: \"@hourly\"\n", `:6: jobs[1].name: job "kvm" is named twice`},
		{"no repo", "jobs: []\n", `:1: top level: no repo`},
		{"email bad smtp", good + "notify: {email: {smtp: mail.example, from: a@b.c, to: [d@e.f]}}\n", `:6: notify.email.smtp: "mail.example": want host:port`},
		{"email no to", good + "notify: {email: {smtp: \"m:25\", from: a@b.c}}\n", `:6: notify.email: no to:`},
		{"email bad to", good + "notify: {email: {smtp: \"m:25\", from: a@b.c, to: [nobody]}}\n", `:6: notify.email.to: "nobody"`},
		{"email no password file", good + "notify: {email: {smtp: \"m:25\", from: a@b.c, to: [d@e.f], username: u}}\n", `:6: notify.email: username without password-file`},
		{"bad bwlimit", good + "limits: {bwlimit: fast}\n", `:6: limits.bwlimit: rate "fast"`},
		{"gc bad cron", good + "gc: {schedule: \"0 3 * *\"}\n", `:6: gc.schedule: "0 3 * *"`},
		{"scan-rules without scan", good + "    scan-rules: " + pw + "\n", `:6: jobs[0].scan-rules: scan-rules without scan: true`},
		{"bad scan rules", good + "    scan: true\n    scan-rules: " + rules + "\n", `:7: jobs[0].scan-rules: rules ` + rules + ` line 2: unknown key "entropy-shar"`},
		{"gc no schedule", good + "gc: {time-zone: UTC}\n", `:6: gc: no schedule`},
		{"gc job name taken", strings.Replace(good, "name: kvm", "name: gc", 1) + "gc: {schedule: \"@weekly\"}\n", `:3: jobs[0].name: job name "gc" is taken by gc:`},
		{"web without listen", good + "web: {users: [{name: a, token-file: " + filepath.Join(dir, "tok") + ", role: admin}]}\n", `:6: web: needs listen:`},
		{"web bad hash", "listen: 127.0.0.1:0\n" + good + "web:\n  users:\n    - {name: a, password-hash: \"$2b$nothash\", role: admin}\n", `:9: web.users[0].password-hash: user "a": not a bcrypt or argon2id hash`},
		{"web short token", "listen: 127.0.0.1:0\n" + good + "web:\n  users:\n    - name: a\n      token-file: " + pw + "\n", `:10: web.users[0].token-file: user "a": ` + pw + `: token shorter than 16`},
		{"web operator without vms", "listen: 127.0.0.1:0\n" + good + "web:\n  users:\n    - {name: a, token-file: " + filepath.Join(dir, "tok") + "}\n", `:9: web.users[0]: operator "a" sees no VM`},
		{"web bad role", "listen: 127.0.0.1:0\n" + good + "web:\n  users:\n    - {name: a, token-file: " + filepath.Join(dir, "tok") + ", role: root}\n", `:9: web.users[0].role: role "root"`},
		{"web tls missing", "listen: 127.0.0.1:0\n" + good + "web:\n  tls: {cert: " + filepath.Join(dir, "nope.crt") + ", key: " + pw + "}\n", `:8: web.tls.cert: stat`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "c.yaml")
			os.WriteFile(p, []byte(tc.text), 0o600)
			_, err := LoadConfig(p)
			if err == nil || !strings.Contains(err.Error(), p+tc.want) {
				t.Fatalf("got %v\nwant %q", err, p+tc.want)
			}
		})
	}
	p := filepath.Join(dir, "good.yaml")
	os.WriteFile(p, []byte(good+"    rpo: 26h\n    test-restore: sample 1/7\n    retention: {keep-last: 2}\n"), 0o600)
	cfg, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if j := cfg.Jobs[0]; j.rpo.Hours() != 26 || j.sample != (Sample{1, 7}) || j.Images.Match != "*" || cfg.Limits.ParallelVMs != 2 {
		t.Fatalf("parsed %+v", j)
	}
}
