package virtual

import (
	"bytes"
	"testing"
)

func TestPINBlock(t *testing.T) {
	// ref §7.2 examples.
	for pin, want := range map[string]string{
		"1234":         "24 12 34 FF FF FF FF FF",
		"12345":        "25 12 34 5F FF FF FF FF",
		"123456789012": "2C 12 34 56 78 90 12 FF",
	} {
		b, err := pinBlock(pin)
		if err != nil || !bytes.Equal(b, h(want)) {
			t.Errorf("pinBlock(%s) = %X, %v; want %s", pin, b, err, want)
		}
		if back, err := decodePINBlock(b); err != nil || back != pin {
			t.Errorf("decode(%X) = %q, %v", b, back, err)
		}
	}
	for _, bad := range []string{"123", "1234567890123", "12a4"} {
		if _, err := pinBlock(bad); err == nil {
			t.Errorf("pinBlock(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"24 12 34 FF FF FF FF FE", "14 12 34 FF FF FF FF FF", "23 12 3F FF FF FF FF FF", "24 1A 34 FF FF FF FF FF"} {
		if _, err := decodePINBlock(h(bad)); err == nil {
			t.Errorf("decode(%s) accepted", bad)
		}
	}
}

func TestVerify(t *testing.T) {
	c := preset(t, "citizen-1.7")
	run(t, c, []step{
		{"status: not verified, 3 tries", h("00 20 00 01"), "=63C3"},
		{"status, 5-byte form", h("00 20 00 01 00"), "=63C3"},
		{"wrong PIN", pinVerify("4321"), "=63C2"},
		{"status does not burn a try (1.7)", h("00 20 00 01"), "=63C2"},
		{"right PIN resets the counter", pinVerify("1234"), "=9000"},
		{"status: verified", h("00 20 00 01"), "=9000"},
		{"not a format-2 block counts as wrong", h("00 20 00 01 08 12 34 FF FF FF FF FF FF"), "=63C2"},
		{"status: rights cleared", h("00 20 00 01"), "=63C2"},
		{"wrong", pinVerify("0000"), "=63C1"},
		{"wrong, last try", pinVerify("0000"), "=63C0"},
		{"blocked, even with the right PIN", pinVerify("1234"), "=6983"},
		{"status blocked", h("00 20 00 01"), "=6983"},
		{"CHANGE blocked", cat("00 24 00 01 10", mustBlock("1234"), mustBlock("5678")), "=6983"},
	})
	if c.PINTries() != 0 {
		t.Fatalf("tries %d", c.PINTries())
	}
	// The counter lives in EEPROM: a reset does not unblock.
	c.Reset()
	run(t, c, []step{{"still blocked after reset", pinVerify("1234"), "=6983"}})

	c = preset(t, "citizen-1.7")
	run(t, c, []step{
		{"Lc 7", h("00 20 00 01 07 24 12 34 FF FF FF FF"), "=6700"},
		{"P1", cat("00 20 01 01 08", mustBlock("1234")), "=6A86"},
		{"PIN reference 02", cat("00 20 00 02 08", mustBlock("1234")), "=6A88"},
	})
}

func mustBlock(pin string) []byte {
	b, err := pinBlock(pin)
	if err != nil {
		panic(err)
	}
	return b
}

func TestEmptyVerifyOn11BurnsATry(t *testing.T) {
	// ref §7.3: the compatibility note of the 1.7 manual.
	c := preset(t, "citizen-1.1")
	run(t, c, []step{
		{"empty VERIFY", h("00 20 00 01"), "=63C2"},
		{"again", h("00 20 00 01"), "=63C1"},
		{"right PIN", pinVerify("1234"), "=9000"},
		{"empty VERIFY clears the right too", h("00 20 00 01"), "=63C2"},
	})
	xfer(t, c, mse(0x02, keyAuth), 0x9000)
	run(t, c, []step{{"no auth right", pso(make([]byte, 20)), "=6982"}})
}

func TestLongPINAndWithPIN(t *testing.T) {
	c := preset(t, "citizen-1.8", WithPIN("123456789012"))
	run(t, c, []step{
		{"profile PIN no longer valid", pinVerify("1234"), "=63C2"},
		{"12-digit PIN", pinVerify("123456789012"), "=9000"},
	})
}

func TestChangeReferenceData(t *testing.T) {
	c := preset(t, "citizen-1.7")
	run(t, c, []step{
		{"Lc 15", cat("00 24 00 01 0F", mustBlock("1234"), mustBlock("5678")[:7]), "=6700"},
		{"bad new block", cat("00 24 00 01 10", mustBlock("1234"), h("12 34 FF FF FF FF FF FF")), "=6A80"},
		{"status unchanged", h("00 20 00 01"), "=63C3"},
		{"wrong old PIN", cat("00 24 00 01 10", mustBlock("1111"), mustBlock("5678")), "=63C2"},
		{"change", cat("00 24 00 01 10", mustBlock("1234"), mustBlock("56789")), "=9000"},
		{"access right granted", h("00 20 00 01"), "=9000"},
		{"old PIN refused", pinVerify("1234"), "=63C2"},
		{"new PIN accepted, counter reset", pinVerify("56789"), "=9000"},
		{"status", h("00 20 00 01"), "=9000"},
	})
	if c.Profile().PIN != "1234" && c.Profile().PIN != "" {
		t.Fatal("the card wrote to its profile")
	}
	// A new card on the same profile has the profile's PIN.
	run(t, New(c.Profile()), []step{{"fresh card", pinVerify("1234"), "=9000"}})
}

func TestLogOff(t *testing.T) {
	for _, form := range []string{"80 E6 00 00", "80 E6 00 00 00"} { // ref §7.5
		c := preset(t, "citizen-1.7")
		run(t, c, []step{
			{"verify", pinVerify("1234"), "=9000"},
			{"log off " + form, h(form), "=9000"},
			{"status", h("00 20 00 01"), "=63C3"},
			{"MSE", mse(0x08, keyAuth), "=9000"},
			{"PSO refused", pso(make([]byte, 32)), "=6982"},
		})
	}
	run(t, preset(t, "citizen-1.7"), []step{
		{"P1", h("80 E6 01 00"), "=6A86"},
		{"Le 01", h("80 E6 00 00 01"), "=6700"},
		{"CLA 00", h("00 E6 00 00"), "=6E00"},
	})
}

// TestSecurityStateMachine walks the sequences of ref §8.4.
func TestSecurityStateMachine(t *testing.T) {
	hash := make([]byte, 32)
	hash48 := make([]byte, 48)
	cardData := h("80 E4 00 00 1C")
	tests := []struct {
		preset string
		steps  []step
	}{
		{"citizen-1.7", []step{
			{"PSO without MSE", pso(hash), "=6985"},
			{"MSE 83", mse(0x08, keyNonRepudiation), "=9000"},
			{"PSO 83 without VERIFY", pso(hash), "=6982"},
			{"VERIFY after MSE 83", pinVerify("1234"), "=9000"},
			{"PSO 83 right after", pso(hash), "=6100"},
			{"fetch", h("00 C0 00 00 00"), "SW 9000"},
			{"second PSO 83 needs its own VERIFY", pso(hash), "=6982"},
			{"MSE 82", mse(0x08, keyAuth), "=9000"},
			{"a VERIFY consumed by key 83 grants no auth right", pso(hash), "=6982"},
		}},
		{"citizen-1.7", []step{
			{"VERIFY first", pinVerify("1234"), "=9000"},
			{"MSE 83", mse(0x08, keyNonRepudiation), "=9000"},
			{"VERIFY before MSE does not arm key 83", pso(hash), "=6982"},
			{"VERIFY", pinVerify("1234"), "=9000"},
			{"PSO 83", pso(hash), "=6100"},
			{"MSE 82", mse(0x08, keyAuth), "=9000"},
			{"the earlier auth right survives", pso(hash), "=6100"},
			{"and again", pso(hash), "=6100"},
		}},
		{"citizen-1.7", []step{
			{"MSE 83", mse(0x08, keyNonRepudiation), "=9000"},
			{"VERIFY", pinVerify("1234"), "=9000"},
			{"a command in between (1.7: none allowed)", cardData, "SW 9000"},
			{"PSO 83", pso(hash), "=6982"},
			{"MSE 82", mse(0x08, keyAuth), "=9000"},
			{"the unconsumed VERIFY granted the auth right", pso(hash), "=6100"},
		}},
		{"citizen-1.8", []step{
			{"MSE 83", mse(0x02, keyNonRepudiation), "=9000"},
			{"VERIFY", pinVerify("1234"), "=9000"},
			{"one command in between (1.8 allows it)", cardData, "SW 9000"},
			{"PSO 83", pso(hash48), "=6160"},
		}},
		{"citizen-1.8", []step{
			{"MSE 83", mse(0x02, keyNonRepudiation), "=9000"},
			{"VERIFY", pinVerify("1234"), "=9000"},
			{"first in between", cardData, "SW 9000"},
			{"second in between", cardData, "SW 9000"},
			{"PSO 83 too late", pso(hash48), "=6982"},
		}},
		{"citizen-1.8", []step{
			{"MSE 83", mse(0x02, keyNonRepudiation), "=9000"},
			{"VERIFY", pinVerify("1234"), "=9000"},
			{"MSE 82 in between", mse(0x02, keyAuth), "=9000"},
			{"PSO 82 with the fresh VERIFY", pso(hash48), "=6160"},
		}},
		{"citizen-1.7", []step{
			{"VERIFY", pinVerify("1234"), "=9000"},
			{"wrong PIN", pinVerify("9999"), "=63C2"},
			{"MSE 82", mse(0x08, keyAuth), "=9000"},
			{"a wrong PIN cleared the auth right", pso(hash), "=6982"},
			{"MSE 83", mse(0x08, keyNonRepudiation), "=9000"},
			{"VERIFY", pinVerify("1234"), "=9000"},
			{"wrong PIN clears the armed key 83", pinVerify("9999"), "=63C2"},
			{"PSO 83", pso(hash), "=6982"},
		}},
		{"citizen-1.7", []step{
			{"VERIFY", pinVerify("1234"), "=9000"},
			{"MSE 82", mse(0x08, keyAuth), "=9000"},
			{"PSO 82", pso(hash), "=6100"},
			{"a command in between is fine for key 82", cardData, "SW 9000"},
			{"PSO 82 again", pso(hash), "=6100"},
			{"LOG OFF", h("80 E6 00 00"), "=9000"},
			{"PSO 82 after LOG OFF", pso(hash), "=6982"},
		}},
		{"citizen-1.7", []step{
			{"MSE 83", mse(0x08, keyNonRepudiation), "=9000"},
			{"VERIFY", pinVerify("1234"), "=9000"},
			{"wrong input length", pso(hash[:20]), "=6700"},
			{"PSO 83 after the failed one", pso(hash), "=6982"},
		}},
	}
	for _, tt := range tests {
		c := preset(t, tt.preset)
		t.Run(tt.preset+"/"+tt.steps[len(tt.steps)-1].name, func(t *testing.T) {
			run(t, c, tt.steps)
		})
	}
}

func TestResetClearsState(t *testing.T) {
	hash := make([]byte, 32)
	for _, power := range []func(*Card){(*Card).Reset, func(c *Card) { c.PowerOff(); c.PowerOn() }} {
		c := preset(t, "citizen-1.7")
		run(t, c, []step{
			{"VERIFY", pinVerify("1234"), "=9000"},
			{"MSE 82", mse(0x08, keyAuth), "=9000"},
			{"select", h("00 A4 08 0C 06 3F 00 DF 01 40 31"), "=9000"},
			{"PSO", pso(hash), "=6100"},
		})
		power(c)
		run(t, c, []step{
			{"pending response gone", h("00 C0 00 00 00"), "=6985"},
			{"SE gone", pso(hash), "=6985"},
			{"MF current", h("00 B0 00 00 10"), "=6986"},
			{"MSE 82", mse(0x08, keyAuth), "=9000"},
			{"right gone", pso(hash), "=6982"},
		})
	}
}
