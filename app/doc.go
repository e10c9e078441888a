// Package app is the desktop side of Portcullis: the glue between the Wails v2 window and
// the Portcullis backend. It is the only package that touches the Wails runtime.
//
// For the Local profile it runs the backend in-process, listening on 127.0.0.1 at a random port
// and guarded by a per-launch secret token, and tells the frontend where to find it through the
// bound method [App.Backend]. Terminal and desktop bytes never pass through Wails: the frontend
// talks to the backend over HTTP and WebSocket like a browser does.
//
// Only the bound API is exported on [App]; lifecycle hooks are wired by [Options].
// The main package (built with the tags desktop,production,webkit2_41) creates the App with
// [New], asks [Options] for the Wails options, binds the App and runs.
package app
