package httpx

import "net/http"

// Mux is what a function mounts its routes on: an *http.ServeMux when it
// serves, a recorder when a test asks which patterns it serves (the local
// runner's tests hold them to functions/catalog), which a ServeMux cannot
// list.
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

var _ Mux = (*http.ServeMux)(nil)
