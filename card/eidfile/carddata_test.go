package eidfile

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCardData(t *testing.T) {
	serial := "534C494E0123456789ABCDEF01234567"
	tests := []struct {
		name string
		in   string
		want CardData
	}{
		{"applet 1.7 (ref §5.1 sample)", serial + "F336012501" + "17" + "0003" + "00" + "21" + "01" + "0F",
			CardData{ComponentCode: 0xF3, OSNumber: 0x36, OSVersion: 0x01, SoftmaskNumber: 0x25, SoftmaskVersion: 0x01,
				AppletVersion: "1.7", AppletVersionByte: 0x17, GlobalOSVersion: 3, PKCS1Support: 0x21,
				KeyExchangeVersion: 1, LifeCycle: 0x0F, PINTries: -1}},
		{"applet 1.8, P2=00", serial + "F336012501" + "18" + "0001" + "00" + "00" + "02" + "0F",
			CardData{ComponentCode: 0xF3, OSNumber: 0x36, OSVersion: 0x01, SoftmaskNumber: 0x25, SoftmaskVersion: 0x01,
				AppletVersion: "1.8", AppletVersionByte: 0x18, GlobalOSVersion: 1, KeyExchangeVersion: 2,
				LifeCycle: 0x0F, PINTries: -1}},
		{"applet 1.8, P2=01 with PIN tries", serial + "F336012501" + "18" + "0001" + "00" + "00" + "02" + "0F" + "03" + "FFFF",
			CardData{ComponentCode: 0xF3, OSNumber: 0x36, OSVersion: 0x01, SoftmaskNumber: 0x25, SoftmaskVersion: 0x01,
				AppletVersion: "1.8", AppletVersionByte: 0x18, GlobalOSVersion: 1, KeyExchangeVersion: 2,
				LifeCycle: 0x0F, PINTries: 3}},
		{"applet 1.8, PIN not found (FF)", serial + "F336012501" + "18" + "0001" + "00" + "00" + "02" + "0F" + "FF" + "FFFF",
			CardData{ComponentCode: 0xF3, OSNumber: 0x36, OSVersion: 0x01, SoftmaskNumber: 0x25, SoftmaskVersion: 0x01,
				AppletVersion: "1.8", AppletVersionByte: 0x18, GlobalOSVersion: 1, KeyExchangeVersion: 2,
				LifeCycle: 0x0F, PINTries: -1}},
		{"applet 1.1 (ref §5.2 sample)", serial + "A503010101" + "1100" + "0200" + "0101" + "0F",
			CardData{ComponentCode: 0xA5, OSNumber: 0x03, OSVersion: 0x01, SoftmaskNumber: 0x01, SoftmaskVersion: 0x01,
				AppletVersion: "1.1", AppletVersionByte: 0x11, AppletInterfaceVersion: 0x0200, PKCS15Version: 0x0101,
				LifeCycle: 0x0F, PINTries: -1}},
		{"unknown applet version", serial + "F336012501" + "2A" + "0001" + "07" + "00" + "02" + "0F",
			CardData{ComponentCode: 0xF3, OSNumber: 0x36, OSVersion: 0x01, SoftmaskNumber: 0x25, SoftmaskVersion: 0x01,
				AppletVersion: "2.A", AppletVersionByte: 0x2A, GlobalOSVersion: 1, AppletInterfaceVersion: 7,
				KeyExchangeVersion: 2, LifeCycle: 0x0F, PINTries: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCardData(mustHex(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Serial, mustHex(t, serial)) {
				t.Errorf("serial % X", got.Serial)
			}
			got.Serial = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseCardDataShort(t *testing.T) {
	for _, n := range []int{0, 22, 27} {
		_, err := ParseCardData(make([]byte, n))
		var fe *FormatError
		if !errors.Is(err, ErrMalformed) || !errors.As(err, &fe) || fe.File != "card data" {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}
