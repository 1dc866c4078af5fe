package fat

import (
	"strings"
	"unicode"
	"unicode/utf16"
)

// cp437 maps the upper half of IBM code page 437, the OEM code page Linux
// vfat assumes by default (codepage=437), to Unicode.
var cp437 = [128]rune{
	'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å',
	'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ',
	'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»',
	'░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐',
	'└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧',
	'╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀',
	'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩',
	'≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u00a0',
}

// decodeOEM converts code page 437 bytes to a string. '/' and NUL, which
// cannot appear in a path component, become '_'.
func decodeOEM(b []byte, lower bool) string {
	var sb strings.Builder
	for _, c := range b {
		r := rune(c)
		switch {
		case c >= 0x80:
			r = cp437[c-0x80]
		case c == '/' || c == 0:
			r = '_'
		}
		if lower {
			r = unicode.ToLower(r)
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// shortName formats an 8.3 name as Linux vfat shows it: trailing spaces
// dropped, a dot before a non-empty extension, lower-cased per the NT flags.
func shortName(e *shortEntry) string {
	raw := e.Name
	if raw[0] == entryKanji {
		raw[0] = entryDeleted
	}
	base := decodeOEM(trimSpaces(raw[:8]), e.NTRes&caseLowerBase != 0)
	ext := decodeOEM(trimSpaces(raw[8:]), e.NTRes&caseLowerExt != 0)
	if ext == "" {
		return base
	}
	return base + "." + ext
}

// rawShortName is the 8.3 name without case flags, used by Lookup.
func rawShortName(e *shortEntry) string {
	plain := *e
	plain.NTRes = 0
	return shortName(&plain)
}

func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// decodeLongName converts the UCS-2 code units of an assembled LFN, up to
// the first NUL (or 0xFFFF padding), to UTF-8. ok is false for a name that is empty or holds a
// '/' (the 8.3 name is used instead).
func decodeLongName(units []uint16) (name string, ok bool) {
	for i, u := range units {
		if u == 0 || u == 0xFFFF {
			units = units[:i]
			break
		}
	}
	if len(units) == 0 {
		return "", false
	}
	name = string(utf16.Decode(units))
	if strings.ContainsRune(name, '/') {
		return "", false
	}
	return name, true
}
