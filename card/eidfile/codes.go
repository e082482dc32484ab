package eidfile

import (
	"strconv"
	"strings"
)

// documentTypeNames maps the document type of identity tag 0F to the eID
// Viewer's XML value (ref §6.1). The kids_foreigner_* values come from the
// viewer's code; its published XSD stops at foreigner_F_plus.
var documentTypeNames = map[int]string{
	1:  "belgian_citizen",
	6:  "kids_card",
	7:  "bootstrap_card",
	8:  "habilitation_card",
	11: "foreigner_a",
	12: "foreigner_b",
	13: "foreigner_c",
	14: "foreigner_d",
	15: "foreigner_e",
	16: "foreigner_e_plus",
	17: "foreigner_f",
	18: "foreigner_f_plus",
	19: "european_blue_card_h",
	20: "ict_i",
	21: "mobile_ict_j",
	22: "foreigner_m",
	23: "foreigner_n",
	27: "foreigner_k",
	28: "foreigner_l",
	31: "foreigner_eu",
	32: "foreigner_eu_plus",
	33: "foreigner_A",
	34: "foreigner_B",
	35: "foreigner_F",
	36: "foreigner_F_plus",
	61: "kids_foreigner_eu",
	62: "kids_foreigner_eu_plus",
	63: "kids_foreigner_A",
	64: "kids_foreigner_B",
	65: "kids_foreigner_K",
	66: "kids_foreigner_L",
	67: "kids_foreigner_F",
	68: "kids_foreigner_F_plus",
	69: "kids_foreigner_M",
}

// documentType reads tag 0F: an ASCII number written "1" or "01" on real
// cards (ref §6.1). A value that is not a number gives 0, "unknown".
func documentType(v string) (int, string) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, "unknown"
	}
	if name, ok := documentTypeNames[n]; ok {
		return n, name
	}
	return n, "unknown"
}

// specialStatusNames is tag 10 (ref §4.2, §6.2).
var specialStatusNames = map[int]string{
	0: "none",
	1: "white_cane",
	2: "extended_minority",
	3: "white_cane_extended_minority",
	4: "yellow_cane",
	5: "yellow_cane_extended_minority",
}

// specialStatus names tag 10; an absent or empty tag is "none", and a code
// outside the table is kept as written.
func specialStatus(v string) string {
	t := strings.TrimSpace(v)
	if t == "" {
		return "none"
	}
	if n, err := strconv.Atoi(t); err == nil {
		if name, ok := specialStatusNames[n]; ok {
			return name
		}
	}
	return v
}

// specialOrganisationNames is tag 13 (ref §4.2, §6.2).
var specialOrganisationNames = map[string]string{
	"1": "shape",
	"2": "nato",
	"4": "old_european_blue_card",
	"5": "researcher",
}

// workPermitNames is tag 16 (ref §4.2, §6.2).
var workPermitNames = map[string]string{
	"7": "unlimited",
	"8": "limited",
	"9": "none",
	"A": "seasonal_worker",
}

// codeName maps a one-character code through table; an empty value stays
// empty (omitted), an unknown code is kept as written.
func codeName(table map[string]string, v string) string {
	if name, ok := table[strings.ToUpper(strings.TrimSpace(v))]; ok {
		return name
	}
	return v
}

// gender reads tag 0D: M male; F (French), V (Dutch) and W (German) female
// (ref §4.2, §6.2). Anything else is kept as written.
func gender(v string) string {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "M":
		return "male"
	case "F", "V", "W":
		return "female"
	}
	return v
}
