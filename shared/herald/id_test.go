package herald

import (
	"sort"
	"testing"
	"time"
)

func TestNewIDSortsByTime(t *testing.T) {
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 100; i++ {
		ids = append(ids, NewID(base.Add(time.Duration(i)*time.Millisecond)))
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("ids are not in time order: %v", ids[:5])
	}
	got, ok := IDTime(ids[42])
	if !ok || !got.Equal(base.Add(42*time.Millisecond)) {
		t.Errorf("IDTime = %v, %v; want %v", got, ok, base.Add(42*time.Millisecond))
	}
	if a, b := NewID(base), NewID(base); a == b {
		t.Errorf("two ids in one millisecond are equal: %s", a)
	}
}

func TestIDTimeRejects(t *testing.T) {
	for _, s := range []string{"", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAVX", "01ARZ3NDEKTSV4RRFFQ69G5FAU", "../../etc/passwd..........",
		"01arz3ndektsv4rrffq69g5fav", "81ARZ3NDEKTSV4RRFFQ69G5FAV"} {
		if _, ok := IDTime(s); ok {
			t.Errorf("IDTime(%q) accepted it", s)
		}
	}
}

// BenchmarkNewID: ingest makes one id per call it plans.
func BenchmarkNewID(b *testing.B) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for b.Loop() {
		if id := NewID(now); len(id) != 26 {
			b.Fatal(id)
		}
	}
}

// BenchmarkIDTime: every call read checks its id and takes its time.
func BenchmarkIDTime(b *testing.B) {
	id := NewID(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	for b.Loop() {
		if _, ok := IDTime(id); !ok {
			b.Fatal(id)
		}
	}
}

func TestCrockfordValue(t *testing.T) {
	for c, want := range map[byte]int{'0': 0, '9': 9, 'A': 10, 'H': 17, 'J': 18, 'Z': 31, 'I': -1, 'L': -1, 'O': -1, 'U': -1, 'a': -1, '#': -1} {
		if got := CrockfordValue(c); got != want {
			t.Errorf("CrockfordValue(%q) = %d; want %d", c, got, want)
		}
	}
}
