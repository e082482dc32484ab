package viewerxml

// Code tables between the Reading's JSON vocabulary and the viewer's XML
// vocabulary. Each is a list of pairs so both directions come from one
// source.

type pair struct{ reading, xml string }

func toXML(table []pair, v string) (string, bool) {
	for _, p := range table {
		if p.reading == v {
			return p.xml, true
		}
	}
	return "", false
}

func fromXML(table []pair, v string) (string, bool) {
	for _, p := range table {
		if p.xml == v {
			return p.reading, true
		}
	}
	return "", false
}

// documentTypes maps the card's tag 0F code to the viewer's documenttype
// value (ref §6.1). The Reading's DocumentTypeName already uses the XML
// spelling, so only the code needs a table.
var documentTypes = []struct {
	code int
	name string
}{
	{1, "belgian_citizen"},
	{6, "kids_card"},
	{7, "bootstrap_card"},
	{8, "habilitation_card"},
	{11, "foreigner_a"},
	{12, "foreigner_b"},
	{13, "foreigner_c"},
	{14, "foreigner_d"},
	{15, "foreigner_e"},
	{16, "foreigner_e_plus"},
	{17, "foreigner_f"},
	{18, "foreigner_f_plus"},
	{19, "european_blue_card_h"},
	{20, "ict_i"},
	{21, "mobile_ict_j"},
	{22, "foreigner_m"},
	{23, "foreigner_n"},
	{27, "foreigner_k"},
	{28, "foreigner_l"},
	{31, "foreigner_eu"},
	{32, "foreigner_eu_plus"},
	{33, "foreigner_A"},
	{34, "foreigner_B"},
	{35, "foreigner_F"},
	{36, "foreigner_F_plus"},
	// The viewer writes these, but eidv4.xsd stops at foreigner_F_plus, so a
	// file carrying one fails schema validation (ref §6.1).
	{61, "kids_foreigner_eu"},
	{62, "kids_foreigner_eu_plus"},
	{63, "kids_foreigner_A"},
	{64, "kids_foreigner_B"},
	{65, "kids_foreigner_K"},
	{66, "kids_foreigner_L"},
	{67, "kids_foreigner_F"},
	{68, "kids_foreigner_F_plus"},
	{69, "kids_foreigner_M"},
}

func documentTypeName(code int) (string, bool) {
	for _, d := range documentTypes {
		if d.code == code {
			return d.name, true
		}
	}
	return "", false
}

func documentTypeCode(name string) (int, bool) {
	for _, d := range documentTypes {
		if d.name == name {
			return d.code, true
		}
	}
	return 0, false
}

// specialStatuses: identity tag 10 (ref §6.2).
var specialStatuses = []pair{
	{"none", "NO_STATUS"},
	{"white_cane", "WHITE_CANE"},
	{"extended_minority", "EXTENDED_MINORITY"},
	{"white_cane_extended_minority", "WHITE_CANE_EXTENDED_MINORITY"},
	{"yellow_cane", "YELLOW_CANE"},
	{"yellow_cane_extended_minority", "YELLOW_CANE_EXTENDED_MINORITY"},
}

// workPermits: identity tag 16 (ref §6.2). The XML says "no" and
// "seasonal worker" where the Reading says "none" and "seasonal_worker".
var workPermits = []pair{
	{"unlimited", "unlimited"},
	{"limited", "limited"},
	{"none", "no"},
	{"seasonal_worker", "seasonal worker"},
}

// brexitMentions1 and brexitMentions2: identity tags 1B and 1C; the Reading
// keeps the card's letter, the XML the English wording (ref §6.2).
var (
	brexitMentions1 = []pair{{"B", "Article 18(1) Agreement"}}
	brexitMentions2 = []pair{{"C", "Permanent stay"}}
)

// cardAMentions1 and cardAMentions2: identity tags 1D and 1E (ref §6.2),
// worded as eidv4.xsd enumerates them.
var (
	cardAMentions1 = []pair{
		{"A", "Seasonal worker"},
		{"D", "Student"},
		{"E", "Pupil"},
		{"F", "Intern"},
		{"G", "Volunteer"},
		{"H", "Au pair"},
		{"I", "Researcher mobility"},
		{"J", "Job search"},
	}
	cardAMentions2 = []pair{{"K", "Mobility program"}}
)
