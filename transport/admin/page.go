package admin

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// static is the page: plain HTML, CSS and JavaScript, no build step, nothing
// fetched from elsewhere.
//
//go:embed static
var static embed.FS

// pageCSP lets the page run only its own script and style and talk only to
// this origin.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pageHandler serves /admin and /admin/ (the page) and its assets. The page
// holds no data: everything it shows comes from the API, behind the key.
func pageHandler() http.Handler {
	files, _ := fs.Sub(static, "static")
	assets := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		name := strings.TrimPrefix(r.URL.Path, "/admin")
		name = strings.TrimPrefix(name, "/")
		if name == "" {
			name = "index.html"
		}
		if strings.Contains(name, "/") || name == "index.html" && r.URL.Path != "/admin" && r.URL.Path != "/admin/" {
			http.NotFound(w, r)
			return
		}
		if _, err := fs.Stat(files, name); err != nil {
			http.NotFound(w, r)
			return
		}
		if name == "index.html" { // FileServer would redirect /index.html to ./
			page, _ := fs.ReadFile(files, name)
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(page)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		assets.ServeHTTP(w, r2)
	})
}
