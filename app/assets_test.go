package app

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

const testIndex = "<!doctype html><title>Portcullis</title>"

func testUI() fstest.MapFS {
	return fstest.MapFS{
		"dist/index.html":     {Data: []byte(testIndex)},
		"dist/assets/app.js":  {Data: []byte("console.log(1)")},
		"dist/.gitkeep":       {},
		"embed.go.not-served": {},
	}
}

func TestUIAssets(t *testing.T) {
	tests := []struct {
		name    string
		dist    fstest.MapFS
		wantErr error
	}{
		{"built", testUI(), nil},
		{"only .gitkeep", fstest.MapFS{"dist/.gitkeep": {}}, ErrUINotBuilt},
		{"no dist", fstest.MapFS{}, ErrUINotBuilt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := uiAssets(tt.dist)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
	if _, err := uiAssets(nil); !errors.Is(err, ErrUINotBuilt) {
		t.Errorf("nil FS: got %v, want %v", err, ErrUINotBuilt)
	}
}

func TestSPAFallback(t *testing.T) {
	ui, err := uiAssets(testUI())
	if err != nil {
		t.Fatal(err)
	}
	h := spaFallback(ui)
	tests := []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{http.MethodGet, "/assets/42", http.StatusOK, testIndex},
		{http.MethodGet, "/login", http.StatusOK, testIndex},
		{http.MethodHead, "/login", http.StatusOK, ""},
		{http.MethodGet, "/assets/missing.js", http.StatusNotFound, ""},
		{http.MethodPost, "/login", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", rec.Body.String(), tt.wantBody)
			}
		})
	}
}
