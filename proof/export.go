package proof

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Format of an export.
type Format string

const (
	FormatJSONL Format = "jsonl" // one JSON record per line, as in the journal
	FormatCSV   Format = "csv"   // RFC 4180, header line, the columns of CSVHeader
)

// ParseFormat accepts "jsonl" or "csv".
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatJSONL, FormatCSV:
		return f, nil
	}
	return "", fmt.Errorf("%w: unknown export format %q (jsonl or csv)", ErrInvalid, s)
}

// CSVHeader names the CSV columns. readingDate and readingTime are the
// eFact split of readAt (Brussels). notChecked and fields are lists,
// separated by spaces. The raw scan is left out: it is free text
// from a scanner, and the JSON lines export carries it. Columns added
// later go at the end, so a program that reads them by position keeps
// working.
var CSVHeader = []string{
	"id", "readAt", "readingDate", "readingTime", "supportType", "inputType", "manualReason",
	"serialNumber", "ssin", "ssinKind", "documentType", "validFrom", "validUntil", "validity",
	"chipNumber", "reader", "integrity", "notChecked", "caller", "fields",
}

// Export writes the matching records to w.
func (j *Journal) Export(w io.Writer, f Format, q Query) error {
	e, err := NewExporter(w, f)
	if err != nil {
		return err
	}
	if err := j.Each(q, e.Write); err != nil {
		return err
	}
	return e.Flush()
}

// Exporter writes records one by one in a Format.
type Exporter struct {
	bw  *bufio.Writer
	csv *csv.Writer
}

// NewExporter starts an export to w; for CSV it writes the header.
func NewExporter(w io.Writer, f Format) (*Exporter, error) {
	e := &Exporter{bw: bufio.NewWriter(w)}
	switch f {
	case FormatJSONL:
	case FormatCSV:
		e.csv = csv.NewWriter(e.bw)
		if err := e.csv.Write(CSVHeader); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: unknown export format %q (jsonl or csv)", ErrInvalid, f)
	}
	return e, nil
}

// Write adds one record.
func (e *Exporter) Write(r Record) error {
	if e.csv == nil {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		e.bw.Write(b)
		return e.bw.WriteByte('\n')
	}
	t := r.ReadAt.In(Brussels)
	doc := ""
	if r.DocumentType != 0 {
		doc = strconv.Itoa(r.DocumentType)
	}
	return e.csv.Write([]string{
		r.ID, t.Format(time.RFC3339), t.Format("20060102"), t.Format("1504"),
		string(r.SupportType), string(r.InputType), string(r.ManualReason),
		cell(r.SerialNumber), cell(r.SSIN), r.SSINKind, doc, cell(r.ValidFrom), cell(r.ValidUntil),
		string(r.Validity), cell(r.ChipNumber), cell(r.Reader), r.Integrity,
		cell(strings.Join(r.NotChecked, " ")), cell(r.Caller), cell(strings.Join(r.Fields, " ")),
	})
}

// Flush ends the export.
func (e *Exporter) Flush() error {
	if e.csv != nil {
		e.csv.Flush()
		if err := e.csv.Error(); err != nil {
			return err
		}
	}
	return e.bw.Flush()
}

// cell defuses spreadsheet formulas (OWASP "CSV injection"): a text cell
// that starts with = + - @ or a tab/CR is prefixed with an apostrophe.
// Digits-only fields are never touched, so billing software reads them as
// they are.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
