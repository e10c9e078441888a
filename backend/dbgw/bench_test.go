package dbgw

import (
	"context"
	"testing"
)

// BenchmarkReadyPrompt measures the time from Start to the client's prompt,
// logged in through the relay (as nobody, in its own network namespace, when
// run as root): what a user waits for when a database session opens.
func BenchmarkReadyPrompt(b *testing.B) {
	for _, tt := range []struct{ name, protocol string }{
		{"mariadb", "mariadb"},
		{"psql", "postgresql"},
		{"redis-cli", "redis"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			spec := newFixture(b, tt.protocol).spec()
			prompt := promptOf(tt.protocol)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s, err := Start(context.Background(), spec, Options{})
				if err != nil {
					b.Fatal(err)
				}
				watch(s).waitFor(b, 0, prompt)
				b.StopTimer()
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
