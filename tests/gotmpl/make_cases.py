#!/usr/bin/env python3
"""Writes the differential test's template cases (tests/gotmpl/cases.json).

Run once after editing; the file is committed, so every run checks the same
cases. Each case is one template (and optional values and helpers) that
plumb's engine and Helm's engine must render identically, or both reject.
"""
import json
import os

V = {
    "str": "hello world",
    "num": 8080,
    "float": 1.5,
    "big": 1000000,
    "neg": -3,
    "zero": 0,
    "t": True,
    "f": False,
    "nul": None,
    "empty": "",
    "list": [3, 1, 2],
    "strs": ["b", "a", "c", "a"],
    "emptyList": [],
    "emptyMap": {},
    "map": {"b": 2, "a": 1, "c": {"d": "deep"}, "a10": 10, "a9": 9, "B": "up", "_u": 0},
    "nested": {"one": {"two": {"three": "bottom"}}},
    "people": [{"name": "ann", "age": 31}, {"name": "bob", "age": 25}],
    "multiline": "line one\nline two\n",
    "multilineNoEnd": "a\nb",
    "tricky": {
        "yes": "yes", "no": "no", "on": "on", "off": "Off", "y": "y", "true": "true", "null": "null", "tilde": "~",
        "oct": "0755", "num": "1.0", "int": "42", "exp": "1e3", "hex": "0x1F", "date": "2024-01-01",
        "datetime": "2024-01-01T10:00:00Z", "colon": "a: b", "hash": "a #b", "lead": " lead", "trail": "trail ",
        "dash": "- x", "star": "*x", "quote": "'q'", "dq": "\"dq\"", "unicode": "héllo ✓", "empty": "",
        "base60": "1:20", "dot": ".5", "plus": "+1", "pct": "%x", "at": "@x", "bang": "!x", "amp": "&x",
        "brace": "{a}", "bracket": "[a]", "pipe": "|x", "gt": ">x", "q": "?x", "comma": "a, b", "tab": "a\tb",
        "spaces": "a  b", "long": "x" * 90, "nl_space": "a\n b\n", "nl_trail": "a \nb\n", "nl2": "a\n\n", "underscore": "1_000",
    },
}

cases = []


def case(id_, template, values=None, helpers=None):
    c = {"id": id_, "template": template}
    if values is not None:
        c["values"] = values
    if helpers is not None:
        c["helpers"] = helpers
    cases.append(c)


def v(id_, template, helpers=None):
    case(id_, template, V, helpers)


# --- the template language -------------------------------------------------
lang = [
    "plain text",
    "{{ .Values.str }}",
    "{{.Values.num}} {{ .Values.float }} {{ .Values.big }} {{ .Values.neg }}",
    "{{ .Values.missing }}|{{ .Values.nul }}|{{ print .Values.missing }}",
    "a  {{- .Values.str -}}  b",
    "a\n\n{{- .Values.str }}\n\n{{- .Values.num -}}\n\nz",
    "{{/* comment */}}x{{- /* trimmed */ -}} y",
    "{{ .Values.str | upper | quote }}",
    "{{ .Values.str | printf \"%s!\" | printf \"<%s>\" }}",
    "{{ $x := .Values.str }}{{ $x }}{{ $x = \"changed\" }} {{ $x }}",
    "{{ $ }}" if False else "{{ $.Values.str }}",
    "{{ with .Values.nested.one }}{{ .two.three }}{{ end }}",
    "{{ with .Values.missing }}yes{{ else }}no{{ end }}",
    "{{ with .Values.missing }}a{{ else with .Values.str }}{{ . }}{{ end }}",
    "{{ if .Values.t }}T{{ else if .Values.f }}F{{ else }}E{{ end }}",
    "{{ if .Values.f }}T{{ else if .Values.zero }}Z{{ else }}E{{ end }}",
    "{{ if and .Values.t .Values.str }}both{{ end }} {{ if or .Values.f .Values.zero }}x{{ else }}none{{ end }}",
    "{{ and 1 0 \"x\" }} {{ or 0 \"\" \"z\" }} {{ and }}" if False else "{{ and 1 0 \"x\" }} {{ or 0 \"\" \"z\" }} {{ or 0 false }}",
    "{{ not .Values.t }} {{ not .Values.empty }} {{ not .Values.list }}",
    "{{ range .Values.list }}[{{ . }}]{{ end }}",
    "{{ range $i, $v := .Values.strs }}{{ $i }}={{ $v }};{{ end }}",
    "{{ range $k, $v := .Values.map }}{{ $k }}:{{ $v }} {{ end }}",
    "{{ range .Values.emptyList }}x{{ else }}empty{{ end }}",
    "{{ range .Values.missing }}x{{ else }}nothing{{ end }}",
    "{{ range 3 }}{{ . }}{{ end }}",
    "{{ range $i, $v := .Values.list }}{{ if eq $v 1 }}{{ continue }}{{ end }}{{ if eq $v 2 }}{{ break }}{{ end }}{{ $v }}{{ end }}",
    "{{ range .Values.people }}{{ .name }}({{ .age }}) {{ end }}",
    "{{ range $p := .Values.people }}{{ $p.name }}{{ end }}",
    "{{ range .Values.people }}{{ $.Values.str }}-{{ .name }} {{ end }}",
    "{{ define \"local\" }}L{{ . }}{{ end }}{{ template \"local\" .Values.num }}",
    "{{ block \"blk\" .Values.str }}[{{ . }}]{{ end }}",
    "{{ (.Values.str) }} {{ (print 1 2) }} {{ (list 1 2 | len) }}",
    "{{ (.Values.nested).one.two.three }}",
    "{{ len .Values.str }} {{ len .Values.list }} {{ len .Values.map }}",
    "{{ index .Values.list 1 }} {{ index .Values.map \"b\" }} {{ index .Values.nested \"one\" \"two\" \"three\" }}",
    "{{ index .Values.map \"missing\" }}",
    "{{ slice .Values.list 1 }} {{ slice .Values.list 0 2 }}",
    "{{ print \"a\" 1 2 \"b\" 3.5 true }}",
    "{{ println \"a\" 1 }}",
    "{{ eq .Values.num 8080.0 }} {{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }}",
    "{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}",
    "{{ eq .Values.missing nil }}",
    "{{ html \"<a href='x'>&</a>\" }}",
    "{{ js \"it's <b> & \\\"q\\\" =\" }}",
    "{{ urlquery \"a b&c=d/é\" }}",
    "{{ \"quoted\\ttab\" }} {{ `raw\\n` }} {{ 'a' }} {{ 0x1F }} {{ 1e3 }} {{ -5 }} {{ 1.50 }}",
    "{{ printf \"%T %T %T %T %T\" 1 1.0 \"s\" true .Values.list }}",
    "{{ $a := 1 }}{{ if true }}{{ $a = 2 }}{{ $b := 3 }}{{ $b }}{{ end }}{{ $a }}",
    "{{- range $i, $e := .Values.strs }}\n- {{ $e }}\n{{- end }}",
    "{{ .Values.map.c.d }} {{ .Values.map.a10 }}",
    "{{ .Release.Name }} {{ .Release.Namespace }} {{ .Release.Service }} {{ .Release.IsInstall }} {{ .Release.Revision }}",
    "{{ .Chart.Name }} {{ .Chart.Version }} {{ .Chart.AppVersion }}",
    "{{ .Template.Name }} {{ .Template.BasePath }}",
    "{{ .Capabilities.KubeVersion }} {{ .Capabilities.KubeVersion.Major }} {{ .Capabilities.KubeVersion.Minor }} {{ .Capabilities.KubeVersion.GitVersion }}",
    "{{ .Capabilities.APIVersions.Has \"apps/v1\" }} {{ .Capabilities.APIVersions.Has \"nope/v1\" }}",
    "{{ if .Capabilities.APIVersions.Has \"policy/v1\" }}policy/v1{{ else }}policy/v1beta1{{ end }}",
    "{{ .Files.Get \"missing.txt\" }}|",
    "{{ with $x := .Values.str }}{{ $x }}{{ end }}",
    "x {{- if true }} y {{- end }} z",
    "{{ range $k, $v := dict \"z\" 1 \"a\" 2 \"m\" 3 }}{{ $k }}{{ end }}",
    "{{ $m := dict }}{{ $_ := set $m \"k\" \"v\" }}{{ $m.k }} {{ len $m }}",
    "{{ $l := list }}{{ range .Values.list }}{{ $l = append $l (mul . 2) }}{{ end }}{{ $l }}",
    "{{ .Values.map }}",
    "{{ .Values.people }}",
    "{{ .Values.emptyMap }} {{ .Values.emptyList }}",
]
for i, t in enumerate(lang):
    v(f"lang/{i:03}", t)

# --- printf ----------------------------------------------------------------
printf = [
    '%s', '%d', '%v', '%q', '%x', '%X', '%f', '%t', '%T', '%5s|', '%-5s|', '%05d', '%.2f', '%8.3f|', '%+d', '%e', '%g',
    '%o', '%b', '%c', '%%', '%s %s', '%d %s', '%v %v %v', '%.3s', '%x', '%q %q', '%10.4v|', '%-8d|', '% d',
]
args = ['"str"', '42', '.Values.float', '.Values.num', '.Values.list', '.Values.map', 'true', '.Values.missing', '-7', '255']
n = 0
for f in printf:
    for a in args[:4] if f not in ('%s %s', '%d %s', '%v %v %v', '%q %q') else ['"a" 1', '1 "b"', '1 2.5 "c"', '"x" "y\\n"']:
        case(f"printf/{n:03}", '{{ printf "%s" %s }}' % (f, a), V)
        n += 1
for a in args:
    case(f"printf/{n:03}", '{{ printf "%%v|%%s|%%d" %s %s %s }}' % (a, a, a), V)
    n += 1
case(f"printf/{n:03}", '{{ printf "%d" }}{{ printf "x" 1 2 }}', V)

# --- strings ---------------------------------------------------------------
strings = [
    'trim "  x  "', 'trimAll "$" "$$5.00$"', 'trimPrefix "he" "hello"', 'trimSuffix "lo" "hello"', 'upper "abc"',
    'lower "ABC"', 'title "hello wide-world foo_bar"', 'untitle "Hello World"', 'repeat 3 "ab"', 'substr 1 3 "hello"',
    'substr 2 -1 "hello"', 'substr -1 2 "hello"', 'nospace "a b\tc"', 'trunc 3 "hello"', 'trunc -2 "hello"', 'trunc 10 "hi"',
    'abbrev 5 "hello world"', 'abbrevboth 5 10 "1234 5678 9123"', 'initials "First Try"', 'wrap 5 "a b c d e f g"',
    'wrapWith 5 "\\t" "Hello World"', 'contains "cat" "catch"', 'hasPrefix "ca" "cat"', 'hasSuffix "at" "cat"',
    'quote "a\\"b"', 'quote 1 nil "x"', 'squote "x" 2', 'cat "a" 1 nil "b"', 'indent 4 "a\\nb"', 'nindent 2 "a\\nb"',
    'replace "a" "b" "banana"', 'replace "" "-" "abc"', 'plural "one" "many" 1', 'plural "one" "many" 2',
    'snakecase "FirstName"', 'snakecase "HTTPServer"', 'snakecase "already_snake"', 'kebabcase "FirstName"',
    'camelcase "http_server"', 'camelcase "some-thing else"', 'swapcase "Hello World"', 'toString 5', 'toString .Values.float',
    'toString .Values.list', 'toString nil', 'toStrings .Values.list', 'join "-" .Values.strs', 'join "," .Values.list',
    'split "$" "a$b$c"', 'splitList "," "a,b,,c"', 'splitn "$" 2 "a$b$c"', 'sortAlpha .Values.strs', 'sortAlpha .Values.list',
    'trim .Values.str', 'upper .Values.num', 'len (repeat 2 "é")', 'contains "" "x"', 'printf "%s" (title "ǅungla")',
    'lower .Values.tricky.unicode', 'b64enc "hello"', 'b64dec "aGVsbG8="', 'b64dec "not base64!"', 'b32enc "hello"',
    'sha1sum "abc"', 'sha256sum "abc"', 'adler32sum "hello"', 'toJson .Values.map', 'toJson .Values.tricky',
    'toPrettyJson .Values.people', 'toRawJson (dict "a" "<&>")', 'toJson .Values.float', 'toJson nil', 'atoi "42"', 'atoi "x"',
    'int "12"', 'int .Values.float', 'int64 .Values.num', 'float64 "1.25"', 'int "0x10"', 'toDecimal "0777"',
    'typeOf .Values.num', 'typeOf (list)', 'typeOf (dict)', 'typeOf (int 1)', 'kindOf .Values.str', 'kindOf .Values.map',
    'kindIs "slice" .Values.list', 'typeIs "string" "x"', 'typeIsLike "float64" 1.0', 'deepEqual (list 1 2) (list 1 2)',
]
for i, t in enumerate(strings):
    v(f"strings/{i:03}", "{{ %s }}" % t)

# --- lists, dicts, defaults -----------------------------------------------
lists = [
    'list 1 "a" nil', 'append .Values.list 4', 'prepend .Values.list 0', 'concat .Values.list .Values.strs (list 9)',
    'first .Values.list', 'last .Values.list', 'rest .Values.list', 'initial .Values.list', 'uniq .Values.strs',
    'without .Values.strs "a"', 'has 2 .Values.list', 'has "z" .Values.strs', 'compact (list 0 1 "" "a" nil)',
    'reverse .Values.list', 'first .Values.emptyList', 'slice .Values.list 1 2', 'chunk 2 (list 1 2 3 4 5)', 'until 5',
    'until -3', 'untilStep 0 10 3', 'untilStep 10 0 -4', 'seq 5', 'seq 2 5', 'seq 0 2 6', 'seq 5 2',
    'dict "a" 1 "b" "two"', 'dict "odd"', 'get .Values.map "b"', 'get .Values.map "nope"', 'hasKey .Values.map "a"',
    'hasKey .Values.map "z"', 'pluck "name" (index .Values.people 0) (index .Values.people 1)', 'keys .Values.map | sortAlpha',
    'values (dict "a" 1) ', 'pick .Values.map "a" "b" "zz"', 'omit .Values.map "a" "b" "c" "B" "_u"',
    'dig "one" "two" "three" "fallback" .Values.nested', 'dig "one" "x" "fallback" .Values.nested',
    'merge (dict "a" 1 "n" (dict "x" 1)) (dict "a" 2 "b" 3 "n" (dict "y" 2))',
    'mergeOverwrite (dict "a" 1 "n" (dict "x" 1)) (dict "a" 2 "b" 3 "n" (dict "x" 9))',
    'deepCopy .Values.nested', 'default "d" .Values.missing', 'default "d" .Values.empty', 'default "d" .Values.str',
    'default 5 .Values.zero', 'default "d" .Values.f', 'default "d" .Values.emptyList', 'empty .Values.emptyMap',
    'empty .Values.str', 'empty 0', 'empty .Values.nul', 'coalesce .Values.missing .Values.empty "c" "d"', 'coalesce nil',
    'all 1 "a" true', 'all 1 ""', 'any 0 "" "x"', 'any 0 false', 'ternary "yes" "no" .Values.t', 'ternary "yes" "no" false',
    'set (dict "a" 1) "b" 2', 'unset (dict "a" 1 "b" 2) "a"', 'len (keys .Values.map)', 'list .Values.map .Values.list',
    'first .Values.strs | upper', 'last (splitList "/" "a/b/c")', 'reverse (list)', 'uniq (list 1 1.0 "1")',
]
for i, t in enumerate(lists):
    v(f"lists/{i:03}", "{{ %s }}" % t)

# --- math ------------------------------------------------------------------
math = [
    'add 1 2 3', 'add .Values.num 1', 'add1 .Values.float', 'sub 10 3', 'mul 2 3 4', 'div 7 2', 'mod 7 3', 'max 1 9 3',
    'min 4 2 8', 'biggest 3 7', 'addf 1.5 2.25', 'subf 5 1.5', 'mulf 1.5 4', 'divf 10 4', 'maxf 1 2.5', 'minf 1 2.5',
    'floor 1.7', 'ceil 1.2', 'round 3.14159 2', 'round 2.5 0', 'add "3" "4"', 'add .Values.str 1', 'div 1 0',
    'printf "%T" (add 1 2)', 'printf "%T" (addf 1 2)', 'printf "%T" (int 1)', 'printf "%T" (len "a")', 'mul .Values.float 2',
    'add1 -1', 'sub .Values.num .Values.float', 'add 1.9 1.9',
]
for i, t in enumerate(math):
    v(f"math/{i:03}", "{{ %s }}" % t)

# --- regex, paths, semver, dates, encodings ----------------------------------
misc = [
    'regexMatch "^[a-z]+$" "abc"', 'regexMatch "^[a-z]+$" "ab1"', 'regexFind "[0-9]+" "abc123def456"',
    'regexFindAll "[0-9]" "a1b2c3" -1', 'regexFindAll "[0-9]" "a1b2c3" 2', 'regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W"',
    'regexReplaceAllLiteral "a(x*)b" "-ab-axxb-" "${1}"', 'regexSplit "z+" "pizza" -1', 'regexQuoteMeta "1.2.3"',
    'mustRegexMatch "[" "x"', 'base "/a/b/c.txt"', 'dir "/a/b/c.txt"', 'clean "/a/../b//c/."', 'ext "x.tar.gz"',
    'isAbs "/a"', 'isAbs "a"', 'base ""', 'dir "file"',
    'semverCompare ">=1.19-0" "v1.30.0"', 'semverCompare "<1.25-0" .Capabilities.KubeVersion.GitVersion',
    'semverCompare "^1.2.3" "1.9.9"', 'semverCompare "~1.2.3" "1.3.0"', 'semverCompare ">1.2 <2 || =3.0.0" "3.0.0"',
    'semverCompare "1.2 - 1.4.5" "1.4.5"', 'semverCompare ">=1.19" "v1.30.0-gke.1"', 'semverCompare "1.2.x" "1.2.7"',
    '(semver "1.2.3-beta.1+build").Major', '(semver "v2.3.4").Minor', '(semver "1.2.3-rc.1").Prerelease',
    'semverCompare ">= 1.20.0, < 1.31.0" .Capabilities.KubeVersion.Version', 'semver "not-a-version"',
    'date "2006-01-02" (toDate "2006-01-02" "2024-03-05")', 'toDate "2006-01-02 15:04" "2024-03-05 07:08" | date "Jan 2, 2006 at 3:04pm (MST)"',
    'dateInZone "2006-01-02T15:04:05Z07:00" (toDate "2006-01-02" "2024-03-05") "UTC"', 'htmlDate (toDate "2006-01-02" "2023-12-31")',
    'unixEpoch (toDate "2006-01-02" "2024-01-01")', 'date "Monday 02 January 2006" 1700000000', 'duration 3700',
    'toDate "2006-01-02" "2024-03-05"', 'date "15:04:05.000" (toDate "2006-01-02T15:04:05.999999999Z07:00" "2024-03-05T01:02:03.456Z")',
    'include "helper" .', 'include "helper" "arg"', 'include "nested" .Values', 'tpl "{{ .Values.str }}!" .',
    'tpl .Values.tplText .', 'tpl "{{ include \\"helper\\" . }}" .', 'tpl "{{ define \\"inner\\" }}I{{ end }}{{ template \\"inner\\" }}" .',
    'required "need str" .Values.str', 'toYaml .Values.map', 'toYaml .Values.people', 'toYaml .Values.tricky',
    'toYaml .Values.list', 'toYaml .Values.emptyMap', 'toYaml .Values.emptyList', 'toYaml .Values.nul', 'toYaml .Values.multiline',
    'toYaml .Values.nested', 'toYaml .Values.float', 'toYaml .Values.big', 'toYaml "yes"', 'toYaml 1.0', 'toYaml (list (list 1 2) (dict))',
    'toYaml (dict "k" .Values.multilineNoEnd)', 'toYaml (list .Values.multiline)', 'toYaml (dict "a" (list (dict "b" (list 1))))',
    'toYaml .Values', 'fromYaml "a: 1\\nb: [x, y]\\nc: yes" | toJson', 'fromYaml "- a" | toJson', 'fromYamlArray "- 1\\n- two" | toJson',
    'hasKey (fromYaml "a: [") "Error"', 'fromJson "{\\"a\\": 1.5, \\"b\\": [true]}" | toYaml', 'fromJsonArray "[1, \\"x\\"]" | toJson',
    'hasKey (fromJson "nope") "Error"', 'toToml (dict "a" 1 "s" "x" "t" (dict "b" true))', 'lookup "v1" "Secret" "ns" "name"',
    'lookup "v1" "Secret" "ns" "name" | len', 'mustToYaml .Values.people', 'mustToJson .Values.list',
    'toYaml (dict "url" "http://x:80/a" "cmd" "--flag=x" "glob" "*.yaml" "k8s" "app.kubernetes.io/name")',
    'toYaml (dict "n" "\\n" "sp" " " "tabs" "a\\tb")',
]
V2 = dict(V)
V2["tplText"] = "{{ .Values.num | add 1 }}-{{ .Release.Name }}"
helpers = '{{- define "helper" -}}H[{{ . | typeOf }}]{{- end -}}\n{{ define "nested" }}{{ include "helper" .str }}{{ end }}'
for i, t in enumerate(misc):
    case(f"misc/{i:03}", "{{ %s }}" % t, V2, helpers)

# Functions whose output is random or time-dependent, checked by its shape.
shapes = [
    'typeOf now', 'now | kindOf', 'uuidv4 | len', 'regexMatch "^[0-9a-f-]{36}$" uuidv4', 'randAlphaNum 10 | len',
    'randAlpha 5 | regexMatch "^[a-zA-Z]{5}$"', 'randNumeric 3 | regexMatch "^[0-9]{3}$"', 'randAscii 4 | len',
    '(genCA "test-ca" 30).Cert | hasPrefix "-----BEGIN CERTIFICATE-----"',
    '(genCA "test-ca" 30).Key | hasPrefix "-----BEGIN RSA PRIVATE KEY-----"',
    '(genSelfSignedCert "self" (list "10.0.0.1") (list "a.example.com") 30).Cert | hasPrefix "-----BEGIN CERTIFICATE-----"',
    '(genSignedCert "leaf" nil (list "b.example.com") 30 (genCA "ca" 30)).Key | hasPrefix "-----BEGIN RSA PRIVATE KEY-----"',
    'genPrivateKey "rsa" | hasPrefix "-----BEGIN RSA PRIVATE KEY-----"', 'typeOf (genCA "x" 1)', 'shuffle "abc" | len',
    'randInt 3 4', 'now | date "2006" | len', 'ago (toDate "2006-01-02" "2000-01-01") | hasSuffix "s"',
]
for i, t in enumerate(shapes):
    v(f"shapes/{i:03}", "{{ %s }}" % t)

# toYaml of each tricky string on its own, embedded like a ConfigMap.
for i, key in enumerate(sorted(V["tricky"])):
    v(f"yaml/{i:03}", "data:\n  {{- toYaml (dict \"value\" .Values.tricky.%s) | nindent 2 }}\n  raw: {{ .Values.tricky.%s | quote }}" % (key, key))

# go-yaml folds long scalars at a space past column 80.
sentence = "the quick brown fox jumps over the lazy dog " * 4
long_values = {
    "plain": sentence.strip(),
    "single": "- " + sentence.strip(),
    "double": sentence,
    "doubleSpaces": "a" * 78 + "  b  c" + " word" * 20,
    "nbsp": "a\u00a0b", "emoji": "🙂 ok", "ctrl": "a\u0001b",
    "nested": {"deeper": {"text": sentence.strip()}},
    "list": [sentence.strip(), {"k": sentence}],
    "key with spaces that is quite long and goes on past the folding column of eighty chars": "v",
}
for i, key in enumerate(sorted(long_values)):
    case(f"fold/{i:03}", '{{ toYaml (pick .Values "%s") }}' % key, long_values)
    case(f"fold/{i:03}-nindent", 'spec:\n  value:{{ toYaml (get .Values "%s") | nindent 4 }}' % key, long_values)
case("fold/all", "{{ toYaml .Values }}", long_values)
case("fold/doc", "{{ toYaml .Values.plain }}", long_values)

# values.schema.json: Helm validates the values and reports each failure.
schema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["image"],
    "definitions": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}},
    "properties": {
        "replicas": {"type": "integer", "minimum": 1},
        "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
        "mode": {"enum": ["a", "b"]},
        "image": {"type": "object", "properties": {"tag": {"type": "string"}}, "additionalProperties": False},
        "list": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "port": {"$ref": "#/definitions/port"},
        "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "nullable": {"type": ["string", "null"]},
        "uniq": {"type": "array", "uniqueItems": True},
    },
}
schema_values = [
    {"image": {}},
    {"image": {"tag": "1"}, "replicas": 2, "name": "ok", "mode": "a", "list": ["x"], "port": 80, "either": 3, "nullable": None},
    {"image": {}, "replicas": "3"},
    {"image": {}, "replicas": 0},
    {"image": {}, "replicas": 1.5},
    {"image": {}, "name": "TooLongName"},
    {"image": {}, "name": "abc1"},
    {"image": {}, "mode": "c"},
    {"image": {}, "mode": 1},
    {"image": {"tag": 1}},
    {"image": {"x": 1}},
    {"image": {"tag": 1, "x": 2}},
    {"image": {}, "list": []},
    {"image": {}, "list": [1]},
    {"image": {}, "port": 70000},
    {"image": {}, "port": "80"},
    {"image": {}, "either": 1.5},
    {"image": {}, "nullable": 3},
    {"image": {}, "uniq": [1, 2, 1]},
    {},
    {"image": "nginx"},
]
for i, vals in enumerate(schema_values):
    c = {"id": f"schema/{i:03}", "template": "ok", "values": vals, "schema": schema}
    cases.append(c)

# Nesting and whitespace control as charts write them.
charts = [
    ('labels', '{{- define "labels" -}}\napp: {{ .Chart.Name }}\nrelease: {{ .Release.Name }}\n{{- end -}}',
     'metadata:\n  labels:\n    {{- include "labels" . | nindent 4 }}\n'),
    ('fullname', '{{- define "fullname" -}}\n{{- if .Values.fullnameOverride -}}\n{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}\n{{- else -}}\n{{- $name := default .Chart.Name .Values.nameOverride -}}\n{{- if contains $name .Release.Name -}}\n{{- .Release.Name | trunc 63 | trimSuffix "-" -}}\n{{- else -}}\n{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}\n{{- end -}}\n{{- end -}}\n{{- end -}}',
     'name: {{ include "fullname" . }}\n'),
    ('env', None, 'env:\n{{- range $k, $v := .Values.map }}\n  - name: {{ $k | upper }}\n    value: {{ $v | toString | quote }}\n{{- end }}\n'),
    ('resources', None, '{{- with .Values.people }}\npeople:\n  {{- toYaml . | nindent 2 }}\n{{- end }}\n'),
    ('ports', None, 'ports:\n{{- range .Values.list }}\n- port: {{ . }}\n  name: p{{ . }}\n{{- end }}'),
    ('selfref', '{{- define "count" -}}{{- if gt (len .) 0 -}}{{ len . }},{{ include "count" (rest .) }}{{- end -}}{{- end -}}',
     '{{ include "count" .Values.list }}'),
    ('annotations', None, '{{- if .Values.map }}\nannotations:\n{{ toYaml .Values.map | indent 2 }}\n{{- end }}'),
    ('checksum', None, 'checksum: {{ toYaml .Values.nested | sha256sum }}'),
    ('ternary', None, 'replicas: {{ ternary 1 3 .Values.t }}\nmode: {{ .Values.t | ternary "on" "off" }}'),
    ('defaultdict', None, '{{- $cfg := merge (dict "a" 1) .Values.nested }}{{ toYaml $cfg }}'),
]
for name, h, t in charts:
    case(f"charts/{name}", t, V, h)

# Errors: both engines must fail, at the same place.
errors = [
    "{{ .Values.missing.field }}", "{{ .Values.str.field }}", "{{ fail \"custom failure\" }}", "{{ required \"value x is required\" .Values.missing }}",
    "{{ required \"empty\" .Values.empty }}", "{{ include \"nope\" . }}", "{{ template \"nope\" }}", "{{ index .Values.list 10 }}",
    "{{ nil }}", "{{ if }}{{ end }}", "{{ end }}", "{{ range .Values.list }}", "{{ undefinedFunc 1 }}", "{{ $undefined }}",
    "{{ .Values.str | upper 1 }}", "line1\nline2 {{ .Values.missing.x }}", "{{ printf }}", "{{ eq 1 \"a\" }}", "{{ lt .Values.list 1 }}",
    "{{ div 1 0 }}", "{{ indent .Values.num \"x\" }}", "{{ upper .Values.num }}", "{{ 3 4 }}", "{{ tpl \"{{ .Values.missing.x }}\" . }}",
    "{{ tpl \"{{ fail \\\"inner\\\" }}\" . }}", "{{ len 3 }}", "{{ range 1.5 }}{{ end }}", "{{ break }}", "{{ .Values.map.a 1 }}",
    "{{ \"unterminated }}", "{{ (1 }}", "{{ .Values | }}", "{{ define \"x\" }}{{ end }}{{ include \"x\" }}",
    "{{ semverCompare \"not a constraint!!\" \"1.0.0\" }}", "{{ toDate }}", "{{ ternary 1 2 \"notbool\" }}",
    "{{ call .Values.str }}", "{{ call .Values.missing }}",
]
for i, t in enumerate(errors):
    v(f"errors/{i:03}", t)

# Go's map-range order with keys that sort differently in YAML.
order = {"b": 1, "a": 2, "B": 3, "_": 4, "a1": 5, "a10": 6, "a2": 7, "Z": 8, "é": 9, "0": 10, "-x": 11, ".": 12}
case("order/range", "{{ range $k, $v := .Values }}{{ $k }}={{ $v }} {{ end }}", order)
case("order/toYaml", "{{ toYaml .Values }}", order)
case("order/toJson", "{{ toJson .Values }}", order)
case("order/keys", "{{ keys .Values | sortAlpha }}", order)
case("order/print", "{{ . .Values }}" if False else "{{ .Values }}", order)

# Go's number literal grammar in templates (text/template's lexer and
# parse.NumberNode): integers in every base, underscores, floats with
# exponents, hexadecimal floats, imaginary numbers, character constants.
numbers = [
    "0x1p20", "0X1P-2", "0x1.8p1", "0x_1p4", "0b101", "0B11", "0o17", "0O17", "017", "0x1F", "0XfF",
    "1_000", "0x_1F", "0b_1", "1_0.2_5", "1e3", "1E-3", "1.5e+3", ".5", "5.", "1e0", "00", "0", "-0x10",
    "+7", "-1_0", "9223372036854775807", "9223372036854775808", "18446744073709551615",
    "18446744073709551616", "-9223372036854775808", "9007199254740993", "1i", "0x10i", "1.5i",
    "'a'", "'\\n'", "'\\x41'", "'\\u263A'", "'\\U0001F600'", "'\\''", "'\\\\'", "'\\101'", "'é'", "'\\t'",
]
for i, lit in enumerate(numbers):
    v(f"numbers/{i:03}", f"{{{{ {lit} }}}} {{{{ printf \"%T\" {lit} }}}}")
numbers_more = [
    "{{ add 0x10 0b1 0o7 1_0 }}", "{{ mul 0x1p2 2 }}", "{{ if eq 0x10 16 }}y{{ end }}", "{{ len (list 0b1 1_0) }}",
    "{{ $x := 0x1p-2 }}{{ $x }}", "{{ printf \"%v %d\" 'a' 'b' }}", "{{ index .Values.list 0x1 }}", "{{ 1e400 }}",
    "{{ 0x1p-1074 }}", "{{ 1.7976931348623157e308 }}",
]
for i, t in enumerate(numbers_more):
    v(f"numbers/more/{i:03}", t)
number_errors = ["{{ 1__0 }}", "{{ 0b }}", "{{ 0x }}", "{{ 0b102 }}", "{{ 08 }}", "{{ 0x1p }}", "{{ 1_ }}", "{{ _1 }}",
                 "{{ 0x1.8 }}", "{{ 'ab' }}", "{{ '' }}", "{{ 1e }}", "{{ 0o8 }}", "{{ 1.2.3 }}"]
for i, t in enumerate(number_errors):
    v(f"numbers/errors/{i:03}", t)

# Helm's common.VersionSet is a []string to Sprig's list functions.
v("capabilities/has", '{{ has "apps/v1" .Capabilities.APIVersions }} {{ has "nope/v1" .Capabilities.APIVersions }} {{ without .Capabilities.APIVersions "v1" | len | lt 10 }}')

# Release manifests: what Helm's install applies (compared object by object
# with Helm's client-only dry-run install, not as template text).
def manifest(id_, template, values=None, helpers=None):
    case(f"manifest/{id_}", template, values, helpers)
    cases[-1]["objects"] = True


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
manifest("separator/comment", "---# leading comment\n" + CM.format(name="a") + "---# another\n" + CM.format(name="b"))
manifest("separator/trimmed", "{{- range list \"a\" \"b\" }}\n---{{ printf \"# %s\" . }}\n" + CM.format(name="{{ . }}") + "{{- end }}\n")
manifest("separator/glued", CM.format(name="a") + "---apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n")
manifest("separator/spaces", "  \n\n" + CM.format(name="a") + "--- \t\n\n" + CM.format(name="b") + "\n\n---   \n")
manifest("separator/indented-dashes", CM.format(name="a") + "data:\n  k: |\n    ---\n    x\n")
manifest("separator/only-comments", "# nothing\n---\n# still nothing\n---\n" + CM.format(name="a"))
manifest("separator/dots", CM.format(name="a") + "data:\n  k: v\n...\n")
manifest("separator/four-dashes", CM.format(name="a") + "----\n" + CM.format(name="b"))
manifest("blocks/keep-end", CM.format(name="a") + "data:\n  k: |+\n    hello\n\n\n")
manifest("blocks/keep-middle", CM.format(name="a") + "data:\n  k: |+\n    hello\n\n\n---\n" + CM.format(name="b"))
manifest("blocks/clip-no-newline", CM.format(name="a") + "data:\n  k: |\n    hello")
manifest("blocks/strip", CM.format(name="a") + "data:\n  k: |-\n    hello\n\n")
manifest("blocks/folded-keep", CM.format(name="a") + "data:\n  k: >+\n    hello\n    world\n\n")
manifest("blocks/keep-trimmed", CM.format(name="a") + "data:\n  k: |+\n    {{ .Values.multiline }}\n{{- if false }}x{{ end }}\n\n")
manifest("blocks/hook-keep", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: h\n  annotations:\n    helm.sh/hook: pre-install\ndata:\n  k: |+\n    hook\n\n")
manifest("blocks/include-keep", CM.format(name="a") + "data:\n  k: |+\n{{ include \"body\" . | indent 4 }}",
         helpers='{{- define "body" -}}\nline\n\n{{ end -}}')
manifest("hooks/unknown", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\n  annotations:\n    helm.sh/hook: crd-install\n---\n" + CM.format(name="kept"))
manifest("hooks/test-not-applied", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations:\n    helm.sh/hook: test-success\nspec: {containers: []}\n---\n" + CM.format(name="kept"))
manifest("hooks/mixed-case", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: \" Pre-Install , post-upgrade\"\nspec: {}\n")
manifest("numbers/big", CM.format(name="a") + "nums:\n  a: 9007199254740993\n  b: -9007199254740993\n  c: 9223372036854775807\n  d: -9223372036854775808\n  e: 18446744073709551615\n  f: 123456789012345678901234\n  g: 1.0\n  h: 1e3\n  i: 0x10\n  j: 1_000\n  k: 0b101\n  l: 0o17\n  m: 017\n  plus: +12\n  o: .5\n  p: 1.5e+3\n  q: 12e03\n")
manifest("numbers/inf", CM.format(name="a") + "v: -.inf\n")
manifest("numbers/values", CM.format(name="a") + "nums:\n  a: {{ .Values.huge }}\n  b: {{ .Values.huge | int64 }}\n  c: {{ 9007199254740993 }}\n  d: {{ 9223372036854775807 | toString }}\n",
         {"huge": 9007199254740993})
manifest("numbers/toyaml", CM.format(name="a") + "nums:\n{{ toYaml .Values.nums | indent 2 }}\n", {"nums": {"big": 9007199254740993, "f": 1.5, "i": 7}})
manifest("yaml/yaml11-values", CM.format(name="a") + "v:\n  a: y\n  b: n\n  c: on\n  d: Off\n  e: ~\n  f: null\n  g: 2024-01-01\n  h: 1:20\n  i: 0755\n  j: '0755'\n")
manifest("yaml/merge-keys", CM.format(name="a") + "base: &b {x: 1, z: 2}\nv:\n  <<: *b\n  z: 3\n")
manifest("yaml/duplicate-keys", CM.format(name="a") + "data:\n  k: one\n  k: two\n")
manifest("tests-dir", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: in-tests\n")
cases[-1]["path"] = "templates/tests/plain.yaml"

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json"), "w") as f:
    json.dump(cases, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(len(cases), "cases")
