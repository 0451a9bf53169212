package httpapi

// RouteTable lists the server's routes as method and pattern, so that the
// security tests try every route there is, including ones added later.
func (s *Server) RouteTable() [][2]string {
	out := make([][2]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = [2]string{rt.method, rt.pattern}
	}
	return out
}
