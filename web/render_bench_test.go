package web

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumLoggedIn is headless Chromium logged in to the UI at base as
// admin (a session cookie, as a user's browser has).
func chromiumLoggedIn(b *testing.B, base string) context.Context {
	ctx := startChromium(b)
	err := chromedp.Do(ctx, chromedp.Navigate(base+"/login"), chromedp.WaitVisible("#user"),
		chromedp.SendKeys("#user", "admin"), chromedp.SendKeys("#password", adminPW), chromedp.Click("#login"),
		chromedp.WaitVisible("#vms"))
	if err != nil {
		b.Fatalf("log in with chromium: %v", err)
	}
	return ctx
}

// pageTiming is what the browser's Performance API says of a load, in
// milliseconds from the start of the navigation.
type pageTiming struct {
	TTFB  float64 `json:"ttfb"`  // first byte of the answer
	Last  float64 `json:"last"`  // last byte
	FCP   float64 `json:"fcp"`   // first contentful paint
	LCP   float64 `json:"lcp"`   // largest contentful paint: the table drawn
	Load  float64 `json:"load"`  // load event done
	Bytes float64 `json:"bytes"` // of the page
}

// timingJS reads the navigation's timings once the load is done; the
// largest contentful paint comes from a buffered observer.
const timingJS = `new Promise(done => {
	const n = performance.getEntriesByType("navigation")[0];
	const fcp = performance.getEntriesByName("first-contentful-paint")[0];
	new PerformanceObserver(list => {
		const e = list.getEntries();
		done({ttfb: n.responseStart, last: n.responseEnd, fcp: fcp ? fcp.startTime : -1,
			lcp: e[e.length - 1].renderTime || e[e.length - 1].startTime, load: n.loadEventEnd, bytes: n.transferSize});
	}).observe({type: "largest-contentful-paint", buffered: true});
})`

// renderPage loads url in Chromium b.N times and reports the mean time to
// first byte, to the last byte, to the first and the largest paint and
// to the load event, as the page's own Performance API measures them.
func renderPage(b *testing.B, ctx context.Context, url, want string) {
	var sum pageTiming
	for range b.N {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(`//a[starts-with(text(), `+strconv.Quote(want)+`)]`))
		var t pageTiming
		if err == nil {
			t, err = chromedp.Run(ctx, chromedp.Evaluate[pageTiming](timingJS, chromedp.EvalAwaitPromise))
		}
		cancel()
		if err != nil {
			b.Fatalf("%s: %v", url, err)
		}
		sum.TTFB += t.TTFB
		sum.Last += t.Last
		sum.FCP += t.FCP
		sum.LCP += t.LCP
		sum.Load += t.Load
		sum.Bytes = t.Bytes
	}
	n := float64(b.N)
	b.ReportMetric(sum.TTFB/n, "ttfb-ms")
	b.ReportMetric(sum.Last/n, "lastbyte-ms")
	b.ReportMetric(sum.FCP/n, "fcp-ms")
	b.ReportMetric(sum.LCP/n, "lcp-ms")
	b.ReportMetric(sum.Load/n, "load-ms")
	b.ReportMetric(sum.Bytes/1024, "page-KiB")
}
