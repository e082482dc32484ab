package pkcs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
)

func TestDiscoverOrder(t *testing.T) {
	cands := []candidate{
		{"/b/libbeidpkcs11.so.0", KindBeID},
		{"/c/libbeidpkcs11.so.0", KindBeID},
		{"/o/opensc-pkcs11.so", KindOpenSC},
		{"/p/opensc-pkcs11.so", KindOpenSC},
	}
	tests := []struct {
		name       string
		configured string
		present    []string
		wantPath   string
		wantKind   Kind
		wantTried  int
		wantErr    bool
	}{
		{"beid first", "", []string{"/c/libbeidpkcs11.so.0", "/o/opensc-pkcs11.so"}, "/c/libbeidpkcs11.so.0", KindBeID, 2, false},
		{"then opensc", "", []string{"/p/opensc-pkcs11.so"}, "/p/opensc-pkcs11.so", KindOpenSC, 4, false},
		{"nothing", "", nil, "", "", 4, true},
		{"configured wins", "/x/my.so", []string{"/x/my.so", "/b/libbeidpkcs11.so.0"}, "/x/my.so", KindConfigured, 1, false},
		{"configured missing: no fallback", "/x/my.so", []string{"/b/libbeidpkcs11.so.0"}, "", "", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := discover(tc.configured, cands, func(p string) bool { return slices.Contains(tc.present, p) })
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrNoModule)) {
				t.Fatalf("err %v", err)
			}
			if d.Path != tc.wantPath || d.Kind != tc.wantKind || len(d.Tried) != tc.wantTried {
				t.Errorf("got %+v", d)
			}
			if !strings.Contains(d.String(), "tried") {
				t.Errorf("String %q", d.String())
			}
		})
	}
}

func TestPlatformCandidates(t *testing.T) {
	c := platformCandidates()
	if len(c) == 0 {
		t.Skip("no install paths on this OS")
	}
	// Every Belgian middleware path comes before every OpenSC one.
	seenOpenSC := false
	for _, x := range c {
		switch x.kind {
		case KindOpenSC:
			seenOpenSC = true
		case KindBeID:
			if seenOpenSC {
				t.Errorf("%s after an OpenSC path", x.path)
			}
		default:
			t.Errorf("kind %q", x.kind)
		}
	}
}

func TestPickSlot(t *testing.T) {
	long := strings.Repeat("Long Reader Name ", 5) + "00 00" // 90 bytes
	tok := func(label string) Token { return Token{Label: label, Initialized: true} }
	slots := []Slot{
		{ID: 1, Reader: "Virtual PCD 0 00 00"},
		{ID: 2, Reader: "Virtual PCD 0 00 01", TokenPresent: true, Token: tok("BELPIC (Basic PIN)")},
		{ID: 3, Reader: strings.TrimRight(long[:64], " "), TokenPresent: true, Token: tok("other")},
		{ID: 4, Reader: "Twin Reader"},
		{ID: 5, Reader: "Twin Reader", TokenPresent: true, Token: tok("twin")},
		{ID: 6, Reader: "SoftHSM slot ID 0x1", TokenPresent: true, Token: Token{}}, // uninitialised
	}
	tests := []struct {
		reader string
		want   uint
		err    error
	}{
		{"Virtual PCD 0 00 01", 2, nil},
		{"Virtual PCD 0 00 00", 1, nil}, // empty reader: found, no token
		{long, 3, nil},                  // cut at 64 by the module
		{"Twin Reader", 5, nil},         // the slot with the token
		{"BELPIC (Basic PIN)", 2, nil},  // a token label
		{"Virtual PCD 0 00 01  ", 2, nil},
		{"Virtual PCD", 0, card.ErrReaderNotFound},
		{"", 0, card.ErrAmbiguousReader},
	}
	for _, tc := range tests {
		s, err := pickSlot(slots, tc.reader)
		if !errors.Is(err, tc.err) || (err == nil && s.ID != tc.want) {
			t.Errorf("pickSlot(%q) = %d, %v; want %d, %v", tc.reader, s.ID, err, tc.want, tc.err)
		}
	}
	one := []Slot{slots[0], slots[1], slots[5]}
	if s, err := pickSlot(one, ""); err != nil || s.ID != 2 {
		t.Errorf("only one initialised token: %d, %v", s.ID, err)
	}
	if _, err := pickSlot(slots[:1], ""); !errors.Is(err, card.ErrNoCard) {
		t.Errorf("no card: %v", err)
	}
}

func TestRetriesFromFlags(t *testing.T) {
	for _, tc := range []struct {
		flags uint
		want  int
	}{
		{0, -1},
		{pkcs11.CKF_LOGIN_REQUIRED, -1},
		{pkcs11.CKF_USER_PIN_COUNT_LOW, 2},
		{pkcs11.CKF_USER_PIN_COUNT_LOW | pkcs11.CKF_USER_PIN_FINAL_TRY, 1},
		{pkcs11.CKF_USER_PIN_LOCKED | pkcs11.CKF_USER_PIN_COUNT_LOW, 0},
	} {
		if got := retriesFromFlags(tc.flags); got != tc.want {
			t.Errorf("flags %#x: %d, want %d", tc.flags, got, tc.want)
		}
	}
}

func TestErrorIs(t *testing.T) {
	for _, tc := range []struct {
		code uint
		is   []error
		not  []error
	}{
		{pkcs11.CKR_DEVICE_REMOVED, []error{card.ErrCardRemoved}, []error{card.ErrPINBlocked, ErrNotSupported}},
		{pkcs11.CKR_TOKEN_NOT_PRESENT, []error{card.ErrCardRemoved}, nil},
		{pkcs11.CKR_SESSION_HANDLE_INVALID, []error{card.ErrCardRemoved}, nil},
		{pkcs11.CKR_SESSION_CLOSED, []error{card.ErrCardRemoved}, nil},
		{pkcs11.CKR_PIN_LOCKED, []error{card.ErrPINBlocked}, []error{card.ErrCardRemoved}},
		{pkcs11.CKR_FUNCTION_CANCELED, []error{card.ErrPINCancelled}, nil},
		{pkcs11.CKR_PIN_LEN_RANGE, []error{card.ErrPINFormat}, nil},
		{pkcs11.CKR_FUNCTION_NOT_SUPPORTED, []error{ErrNotSupported}, []error{card.ErrCardRemoved}},
		{pkcs11.CKR_MECHANISM_INVALID, []error{ErrNotSupported}, nil},
		{pkcs11.CKR_DEVICE_ERROR, nil, []error{card.ErrCardRemoved, ErrNotSupported}},
	} {
		err := ckrError("C_Test", pkcs11.Error(tc.code))
		for _, target := range tc.is {
			if !errors.Is(err, target) {
				t.Errorf("%v is not %v", err, target)
			}
		}
		for _, target := range tc.not {
			if errors.Is(err, target) {
				t.Errorf("%v is %v", err, target)
			}
		}
		var code pkcs11.Error
		if !errors.As(err, &code) || uint(code) != tc.code || !strings.HasPrefix(err.Error(), "C_Test: ") {
			t.Errorf("%v does not unwrap to its code", err)
		}
	}
}

// TestAwait: a call that outlives its timeout leaves the caller with
// ErrTimeout at once; what it held is released when it returns, exactly
// once, and never before.
func TestAwait(t *testing.T) {
	release := make(chan struct{})
	lateRan := make(chan struct{})
	start := time.Now()
	err := await(context.Background(), 50*time.Millisecond, "C_Slow", func() error {
		<-release
		return nil
	}, func() { close(lateRan) })
	if !errors.Is(err, ErrTimeout) || time.Since(start) > time.Second {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
	select {
	case <-lateRan:
		t.Fatal("late ran before the call returned")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-lateRan:
	case <-time.After(5 * time.Second):
		t.Fatal("late never ran")
	}

	ctx, cancel := context.WithCancel(context.Background())
	release = make(chan struct{})
	done := make(chan struct{})
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	err = await(ctx, time.Minute, "C_Slow", func() error { <-release; return nil }, func() { close(done) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	close(release)
	<-done

	// A prompt result wins, with its error, and late never runs.
	want := errors.New("boom")
	err = await(context.Background(), time.Minute, "C_Fast", func() error { return want }, func() { t.Error("late ran") })
	if err != want {
		t.Fatalf("%v", err)
	}
}

func TestAwaitCancelledBefore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := await(ctx, time.Minute, "C_Login", func() error { t.Error("called"); return nil }, func() { t.Error("late ran") })
	if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
