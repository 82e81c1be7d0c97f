/* Hand-written line scanners: the parsing hot path.
 *
 * Scanner: the Apache/NCSA family (formats/apache.py). It accepts exactly the lines the family's
 * regexes accept and gives the same fields: the regexes never backtrack (but in one place, see
 * scan()), so each reads as a left-to-right scan, written out here.
 * TokenScanner: the W3C formats (formats/w3c.py); it answers only for the lines where the regex's
 * first attempt must succeed, and leaves every other line to the regex.
 * split_ascii: a chunk into lines, with memchr.
 * JsonScanner: the JSON map formats (formats/jsonmap.py); it walks a line's JSON once and makes
 * objects only for the values the format reads, and leaves every line it is not sure of to the
 * orjson path.
 * pick: the orjson path's values, read from a decoded object by key, each of its field's type.
 * tests/test_scan.py checks each scanner against its regex (or the orjson path) on generated,
 * hostile, truncated and mutated lines; benchmarks/run.py's dry-regex scenario and
 * benchmarks/parse_cost.py measure what they gain.
 *
 * Only ASCII lines are scanned here; any other line goes to the fallback (the regex), so the
 * Unicode meaning of \s, \w and \d never has to be reproduced. For ASCII, Python's \s is
 * [\t\n\v\f\r\x1c-\x1f ], \w is [A-Za-z0-9_] and \d is [0-9].
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define NFIELDS 19
/* Positions in formats.base.FIELDS. */
enum { F_IP = 0, F_HOST = 1, F_DATE = 2, F_TZ = 4, F_METHOD = 5, F_PATH = 6, F_STATUS = 8,
       F_LENGTH = 9, F_REFERRER = 10, F_UA = 11, F_USERID = 12 };

static unsigned char SPACE[256], WORD[256], PATH_END[256];

static void init_tables(void)
{
    const char *ws = "\t\n\v\f\r\x1c\x1d\x1e\x1f ";
    for (const char *p = ws; *p; p++) SPACE[(unsigned char)*p] = 1;
    for (int c = 0; c < 256; c++)
        WORD[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    for (int c = 0; c < 256; c++)
        PATH_END[c] = SPACE[c] || c == '"' || c == '\\';  /* what [^"\\\s]* stops at */
}

#define IS_SPACE(c) (SPACE[(unsigned char)(c)])
/* formats/addresses.py's CLIENT_CHARS: \w * . : / [ ] % - */
#define IS_IP_CHAR(c) (WORD[(unsigned char)(c)] || (c) == '*' || (c) == '.' || (c) == ':' || (c) == '-' \
                       || (c) == '/' || (c) == '[' || (c) == ']' || (c) == '%')
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')

typedef struct { Py_ssize_t start, end; } span;

/* \s+ at *pos: 0 when there is no whitespace. */
static inline int spaces(const char *s, Py_ssize_t n, Py_ssize_t *pos)
{
    Py_ssize_t p = *pos;
    if (p >= n || !IS_SPACE(s[p])) return 0;
    while (p < n && IS_SPACE(s[p])) p++;
    *pos = p;
    return 1;
}

/* \S+ */
static inline int token(const char *s, Py_ssize_t n, Py_ssize_t *pos, span *out)
{
    Py_ssize_t p = *pos;
    while (p < n && !IS_SPACE(s[p])) p++;
    if (p == *pos) return 0;
    out->start = *pos; out->end = p;
    *pos = p;
    return 1;
}

/* The quoted-field body [^"\\]*(?:\\.[^"\\]*)* followed by its closing quote. */
static inline int quoted(const char *s, Py_ssize_t n, Py_ssize_t *pos, span *out)
{
    Py_ssize_t p = *pos;
    /* Usually no backslash before the closing quote: memchr finds both ends fast. */
    const char *quote = memchr(s + p, '"', n - p);
    Py_ssize_t q = quote ? quote - s : n;
    if (memchr(s + p, '\\', q - p) == NULL) {
        p = q;
    } else {
        for (;;) {
            while (p < n && s[p] != '"' && s[p] != '\\') p++;
            if (p + 1 < n && s[p] == '\\' && s[p + 1] != '\n') { p += 2; continue; }
            break;
        }
    }
    if (p >= n || s[p] != '"') return 0;
    out->start = *pos; out->end = p;
    *pos = p + 1;
    return 1;
}

/* The lookahead \S+"\s+\d at p: the next token ends with a quote (and is longer than it), then
 * whitespace and a digit. A quote inside the token can't do, as a non-space follows it. */
static inline int protocol_follows(const char *s, Py_ssize_t n, Py_ssize_t p)
{
    Py_ssize_t q = p;
    while (q < n && !IS_SPACE(s[q])) q++;
    if (q - p < 2 || s[q - 1] != '"') return 0;
    if (!spaces(s, n, &q)) return 0;
    return q < n && IS_DIGIT(s[q]);
}

/* From the protocol on: \S+"\s+(?P<status>\d+)\s+(?P<length>\S+), then for the combined
 * formats \s+"(?P<referrer>QUOTED)"\s+"(?P<user_agent>QUOTED)". */
static int rest(const char *s, Py_ssize_t n, Py_ssize_t p, int combined, span *f)
{
    if (!protocol_follows(s, n, p)) return 0;
    while (!IS_SPACE(s[p])) p++;
    spaces(s, n, &p);
    f[F_STATUS].start = p;
    while (p < n && IS_DIGIT(s[p])) p++;
    f[F_STATUS].end = p;
    if (!spaces(s, n, &p) || !token(s, n, &p, &f[F_LENGTH])) return 0;
    if (!combined) return 1;
    if (!spaces(s, n, &p) || p >= n || s[p] != '"') return 0;
    p++;
    if (!quoted(s, n, &p, &f[F_REFERRER])) return 0;
    if (!spaces(s, n, &p) || p >= n || s[p] != '"') return 0;
    p++;
    return quoted(s, n, &p, &f[F_UA]);
}

/* Returns 1 and fills f[] on a match, 0 otherwise. */
static int scan(const char *s, Py_ssize_t n, int vhost, int combined, span *f)
{
    Py_ssize_t p = 0, q;
    span ident;

    for (int i = 0; i < NFIELDS; i++) f[i].start = f[i].end = -1;
    if (vhost) {  /* (?P<host>\[[\w:.%]*\]|[\w.-]*)(?::\d+)?\s+ */
        if (p < n && s[p] == '[') {  /* an IPv6 literal: its closing bracket, or no match */
            p++;
            while (p < n && (WORD[(unsigned char)s[p]] || s[p] == ':' || s[p] == '.' || s[p] == '%')) p++;
            if (p >= n || s[p] != ']') return 0;
            p++;
        } else {
            while (p < n && (WORD[(unsigned char)s[p]] || s[p] == '-' || s[p] == '.')) p++;
        }
        f[F_HOST].start = 0; f[F_HOST].end = p;
        if (p < n && s[p] == ':') {
            q = p + 1;
            while (q < n && IS_DIGIT(s[q])) q++;
            if (q > p + 1) p = q;
        }
        if (!spaces(s, n, &p)) return 0;
    }
    /* (?P<ip>[\w*.:/\[\]%-]+)\s+ (formats/addresses.py's CLIENT_CHARS) */
    q = p;
    while (q < n && IS_IP_CHAR(s[q])) q++;
    if (q == p) return 0;
    f[F_IP].start = p; f[F_IP].end = q; p = q;
    /* \s+\S+\s+(?P<userid>\S+)\s+\[ */
    if (!spaces(s, n, &p) || !token(s, n, &p, &ident) || !spaces(s, n, &p)
        || !token(s, n, &p, &f[F_USERID]) || !spaces(s, n, &p)) return 0;
    if (p >= n || s[p] != '[') return 0;
    p++;
    /* (?P<date>[^\]\s]*)\s+(?P<timezone>[^\]]*)\]\s+" */
    f[F_DATE].start = p;
    while (p < n && s[p] != ']' && !IS_SPACE(s[p])) p++;
    f[F_DATE].end = p;
    if (!spaces(s, n, &p)) return 0;
    f[F_TZ].start = p;
    while (p < n && s[p] != ']') p++;
    if (p >= n) return 0;
    f[F_TZ].end = p;
    p++;
    if (!spaces(s, n, &p) || p >= n || s[p] != '"') return 0;
    p++;
    /* (?P<method>\S+)\s+ */
    if (!token(s, n, &p, &f[F_METHOD])) return 0;
    q = p;
    if (!spaces(s, n, &p)) return 0;
    Py_ssize_t a = p, gaps = p - q;
    /* (?P<path>[^"\\\s]*(?:(?:\\.|\s+(?!\s|\S+"\s+\d))[^"\\\s]*)*) */
    for (;;) {
        while (p < n && !PATH_END[(unsigned char)s[p]]) p++;
        if (p >= n) break;
        if (s[p] == '\\') {
            if (p + 1 < n && s[p + 1] != '\n') { p += 2; continue; }
            break;
        }
        if (IS_SPACE(s[p])) {
            q = p;
            spaces(s, n, &q);
            if (protocol_follows(s, n, q)) break;
            p = q;
            continue;
        }
        break;  /* a quote */
    }
    /* \s+ then the rest: the path stopped before whitespace only where the protocol follows. */
    if (p < n && IS_SPACE(s[p])) {
        q = p;
        spaces(s, n, &q);
        if (rest(s, n, q, combined, f)) {
            f[F_PATH].start = a; f[F_PATH].end = p;
            return 1;
        }
    }
    /* The regex's one way back: with two spaces or more after the method, it gives one back
     * and matches an empty path, when the protocol comes right after the spaces. */
    if (gaps >= 2 && rest(s, n, a, combined, f)) {
        f[F_PATH].start = f[F_PATH].end = a;
        return 1;
    }
    return 0;
}

/* Field values repeat (a few agents, paths, dates and statuses make most lines), so each
 * scanner keeps the strings it made in a small direct-mapped table and hands the same object out
 * again. That saves allocating and copying them, and Python's dict lookups on them (the memo
 * tables) find their hash already computed. Only short values are kept: memory stays bounded. */
#define INTERN_SLOTS 4096
#define INTERN_MAX_LEN 256

/* What every scanner holds first: the regex that answers for the lines it leaves, and its
 * table of strings. The functions on ScannerBase below serve both scanners. */
#define SCANNER_HEAD \
    PyObject_HEAD \
    PyObject *fallback; \
    PyObject *intern[INTERN_SLOTS];

typedef struct { SCANNER_HEAD } ScannerBase;

typedef struct {
    SCANNER_HEAD
    int vhost, combined, escapes;
} Scanner;

static inline uint64_t hash_bytes(const char *s, Py_ssize_t n, uint64_t h)
{
    uint64_t w;
    while (n >= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
        s += 8; n -= 8;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w ^ ((uint64_t)n << 56)) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 32);
}

static PyObject *ascii_string(PyObject **intern, const char *s, span sp, int field)
{
    Py_ssize_t len = sp.end - sp.start;
    const char *v = s + sp.start;
    PyObject **slot = NULL, *u;
    if (len == 1) return PyUnicode_FromOrdinal((unsigned char)*v);  /* CPython caches these */
    if (len <= INTERN_MAX_LEN) {
        slot = &intern[hash_bytes(v, len, (uint64_t)field + 1) & (INTERN_SLOTS - 1)];
        u = *slot;
        if (u != NULL && PyUnicode_GET_LENGTH(u) == len && memcmp(PyUnicode_1BYTE_DATA(u), v, len) == 0) {
            Py_INCREF(u);
            return u;
        }
    }
    u = PyUnicode_New(len, 127);
    if (u == NULL) return NULL;
    memcpy(PyUnicode_1BYTE_DATA(u), v, len);
    if (slot != NULL) {
        Py_INCREF(u);
        Py_XSETREF(*slot, u);
    }
    return u;
}

/* The FIELDS tuple: a str for each field found, None for the others. */
static PyObject *make_tuple(PyObject **intern, const char *s, const span *f)
{
    PyObject *t = PyTuple_New(NFIELDS);
    if (t == NULL) return NULL;
    for (int i = 0; i < NFIELDS; i++) {
        PyObject *v;
        if (f[i].start < 0) {
            v = Py_None;
            Py_INCREF(v);
        } else if ((v = ascii_string(intern, s, f[i], i)) == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

/* The characters of an ASCII line, or NULL with *answer set: the fallback's answer for any
 * other line, or NULL (an exception) when `line` is not a str. */
static const char *ascii_line(ScannerBase *self, PyObject *line, Py_ssize_t *n, PyObject **answer)
{
    if (!PyUnicode_Check(line)) {
        PyErr_SetString(PyExc_TypeError, "extract() needs a str");
        *answer = NULL;
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(line)) {
        *answer = PyObject_CallOneArg(self->fallback, line);
        return NULL;
    }
    *n = PyUnicode_GET_LENGTH(line);
    return (const char *)PyUnicode_1BYTE_DATA(line);
}

static int set_fallback(ScannerBase *self, PyObject *fallback)
{
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return -1;
    }
    Py_INCREF(fallback);
    Py_XSETREF(self->fallback, fallback);
    return 0;
}

static void scanner_dealloc(ScannerBase *self)
{
    for (int i = 0; i < INTERN_SLOTS; i++) Py_XDECREF(self->intern[i]);
    Py_XDECREF(self->fallback);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Scanner_extract(Scanner *self, PyObject *line)
{
    span f[NFIELDS];
    Py_ssize_t n;
    PyObject *answer;
    const char *s = ascii_line((ScannerBase *)self, line, &n, &answer);
    if (s == NULL)
        return answer;
    if (self->escapes && memchr(s, '\\', n) != NULL)  /* escapes to decode: the regex's work */
        return PyObject_CallOneArg(self->fallback, line);
    if (!scan(s, n, self->vhost, self->combined, f))
        Py_RETURN_NONE;
    return make_tuple(self->intern, s, f);
}

static int Scanner_init(Scanner *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"vhost", "combined", "fallback", "escapes", NULL};
    int vhost, combined, escapes = 0;
    PyObject *fallback;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ppO|p", kwlist, &vhost, &combined, &fallback, &escapes))
        return -1;
    self->vhost = vhost;
    self->combined = combined;
    self->escapes = escapes;
    return set_fallback((ScannerBase *)self, fallback);
}

static PyMethodDef Scanner_methods[] = {
    {"extract", (PyCFunction)Scanner_extract, METH_O,
     "extract(line) -> tuple of the FIELDS, or None when the line does not match"},
    {NULL}
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "formats._scan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Scanner(vhost, combined, fallback, escapes=False): the Apache family's line scanner; "
              "with escapes, lines holding a backslash go to the fallback",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_methods = Scanner_methods,
};

/* TokenScanner: the W3C formats (formats/w3c.py), whose regex is one pattern per #Fields: name
 * joined by \s+. Each field is a kind of token (below). The scanner only answers when the regex's
 * first attempt is sure to succeed: an ASCII line without quotes, not starting with whitespace,
 * whose first tokens each match their field whole (the last field: a prefix, as re.match allows
 * anything after it). The regex's greedy first attempt then takes exactly these tokens, so its
 * groups are these. Any other line goes to the fallback (the regex), which decides. */
enum { K_ANY = 0,   /* \S* , \S+ , (?:".*?"|\S+) , ".*?"|\S*  (no quotes here: the token)   */
       K_DATE,      /* "?\d+[-\d+]+"?                                                       */
       K_TIME,      /* "?[\d+:]+[.\d]*?"?  (the group is the [\d+:]+ part)                  */
       K_PATH,      /* /\S*                                                                 */
       K_IP,        /* "?[\w*.:/\[\]%-]*"?                                                  */
       K_DIGITS,    /* \d+                                                                  */
       K_DECIMAL,   /* [.\d]+                                                               */
       K_KINDS };

typedef struct {
    SCANNER_HEAD
    int nfields;
    unsigned char kinds[64];
    signed char slots[64];  /* position in FIELDS, or -1: matched but not kept */
} TokenScanner;

#define IS_TIME_CHAR(c) (IS_DIGIT(c) || (c) == '+' || (c) == ':')
#define IS_DATE_CHAR(c) (IS_DIGIT(c) || (c) == '+' || (c) == '-')
#define IS_DEC_CHAR(c) (IS_DIGIT(c) || (c) == '.')

/* The group's end for a token [a, b) of this kind, or -1. `last`: the token need not be used up. */
static Py_ssize_t token_group(const char *s, Py_ssize_t a, Py_ssize_t b, int kind, int last)
{
    Py_ssize_t p = a;
    switch (kind) {
    case K_ANY:
        return b;
    case K_PATH:
        return s[a] == '/' ? b : -1;
    case K_DATE:
        if (!IS_DIGIT(s[a])) return -1;
        while (p < b && IS_DATE_CHAR(s[p])) p++;
        if (p - a < 2) return -1;
        break;
    case K_TIME:
        while (p < b && IS_TIME_CHAR(s[p])) p++;
        if (p == a) return -1;
        if (!last) {  /* the lazy [.\d]*? must reach the token's end */
            Py_ssize_t q = p;
            while (q < b && IS_DEC_CHAR(s[q])) q++;
            if (q != b) return -1;
        }
        return p;
    case K_IP:
        while (p < b && IS_IP_CHAR(s[p])) p++;
        break;
    case K_DIGITS:
        while (p < b && IS_DIGIT(s[p])) p++;
        if (p == a) return -1;
        break;
    case K_DECIMAL:
        while (p < b && IS_DEC_CHAR(s[p])) p++;
        if (p == a) return -1;
        break;
    default:
        return -1;
    }
    return (last || p == b) ? p : -1;
}

static PyObject *TokenScanner_extract(TokenScanner *self, PyObject *line)
{
    span f[NFIELDS];
    Py_ssize_t n, p = 0;
    PyObject *answer;
    const char *s = ascii_line((ScannerBase *)self, line, &n, &answer);
    if (s == NULL)
        return answer;
    if (n == 0 || IS_SPACE(s[0]) || memchr(s, '"', n) != NULL)
        return PyObject_CallOneArg(self->fallback, line);
    for (int i = 0; i < NFIELDS; i++) f[i].start = f[i].end = -1;
    for (int k = 0; k < self->nfields; k++) {
        if (k > 0 && !spaces(s, n, &p))
            return PyObject_CallOneArg(self->fallback, line);
        if (p >= n)
            return PyObject_CallOneArg(self->fallback, line);
        Py_ssize_t a = p;
        while (p < n && !IS_SPACE(s[p])) p++;
        Py_ssize_t end = token_group(s, a, p, self->kinds[k], k == self->nfields - 1);
        if (end < 0)
            return PyObject_CallOneArg(self->fallback, line);
        if (self->slots[k] >= 0) {
            f[self->slots[k]].start = a;
            f[self->slots[k]].end = end;
        }
    }
    return make_tuple(self->intern, s, f);
}

static int TokenScanner_init(TokenScanner *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"kinds", "slots", "fallback", NULL};
    Py_buffer kinds;
    PyObject *slots, *fallback;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*OO", kwlist, &kinds, &slots, &fallback))
        return -1;
    Py_ssize_t nf = kinds.len;
    int ok = nf > 0 && nf <= 64 && PyTuple_Check(slots) && PyTuple_GET_SIZE(slots) == nf;
    for (Py_ssize_t i = 0; ok && i < nf; i++) {
        long slot = PyLong_AsLong(PyTuple_GET_ITEM(slots, i));
        unsigned char kind = ((unsigned char *)kinds.buf)[i];
        if (slot < -1 || slot >= NFIELDS || kind >= K_KINDS) ok = 0;
        self->kinds[i] = kind;
        self->slots[i] = (signed char)slot;
    }
    PyBuffer_Release(&kinds);
    if (!ok) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "TokenScanner(kinds, slots, fallback): 1 to 64 known kinds, "
                            "as many slots (-1 or a FIELDS position)");
        return -1;
    }
    self->nfields = (int)nf;
    return set_fallback((ScannerBase *)self, fallback);
}

static PyMethodDef TokenScanner_methods[] = {
    {"extract", (PyCFunction)TokenScanner_extract, METH_O,
     "extract(line) -> tuple of the FIELDS, or what the fallback says"},
    {NULL}
};

static PyTypeObject TokenScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "formats._scan.TokenScanner",
    .tp_basicsize = sizeof(TokenScanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TokenScanner(kinds, slots, fallback): the W3C formats' line scanner",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)TokenScanner_init,
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_methods = TokenScanner_methods,
};

/* split_ascii(data: bytes) -> list[str]: data.decode("ascii").split("\n"), for data known to be
 * ASCII. str.split looks at every character; memchr does the looking here, ~5x faster. */
static PyObject *split_ascii(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *s = view.buf, *end = s + view.len;
    PyObject *lines = PyList_New(0);
    if (lines == NULL) goto fail;
    for (;;) {
        const char *nl = memchr(s, '\n', end - s);
        const char *stop = nl ? nl : end;
        PyObject *line = PyUnicode_New(stop - s, 127);
        if (line == NULL) goto fail;
        memcpy(PyUnicode_1BYTE_DATA(line), s, stop - s);
        int err = PyList_Append(lines, line);
        Py_DECREF(line);
        if (err < 0) goto fail;
        if (nl == NULL) break;
        s = nl + 1;
    }
    PyBuffer_Release(&view);
    return lines;
fail:
    Py_XDECREF(lines);
    PyBuffer_Release(&view);
    return NULL;
}

/* jsonmap.as_text (text fields) and as_number (numeric ones) of a Python value; a new reference. */
static PyObject *typed_object(PyObject *v, int numeric)
{
    if (v == Py_None || PyUnicode_CheckExact(v) || ((PyLong_CheckExact(v) || PyFloat_CheckExact(v)) && numeric)) {
        Py_INCREF(v);
        return v;
    }
    if (PyLong_CheckExact(v) || PyFloat_CheckExact(v)) return PyObject_Str(v);
    Py_RETURN_NONE;
}

/* pick(obj: dict, keys: tuple, numeric: bytes) -> tuple: for each key (None: no key), the
 * value obj[key] of the type its field expects, or None. A text field (numeric[i] == 0) takes
 * str; an int or float becomes its str(); anything else (an object, an array, a bool) None. A
 * numeric field takes int, float or str, else None. The same as jsonmap.pick_in_python, which
 * tests/test_formats.py checks it against. */
static PyObject *pick(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_Check(args[0]) || !PyTuple_Check(args[1]) || !PyBytes_Check(args[2])
        || PyBytes_GET_SIZE(args[2]) != PyTuple_GET_SIZE(args[1])) {
        PyErr_SetString(PyExc_TypeError, "pick(obj: dict, keys: tuple, numeric: bytes of the same length)");
        return NULL;
    }
    PyObject *obj = args[0], *keys = args[1];
    const char *numeric = PyBytes_AS_STRING(args[2]);
    Py_ssize_t n = PyTuple_GET_SIZE(keys);
    PyObject *out = PyTuple_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i), *v = NULL;
        if (key != Py_None) {
            v = PyDict_GetItemWithError(obj, key);  /* borrowed */
            if (v == NULL && PyErr_Occurred()) {
                Py_DECREF(out);
                return NULL;
            }
        }
        if ((v = typed_object(v == NULL ? Py_None : v, numeric[i])) == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, v);
    }
    return out;
}

/* JsonScanner: the JSON map formats (formats/jsonmap.py). It walks a line's JSON object once and
 * makes Python objects only for the values the format's map names (keys, and key paths into
 * nested objects), where orjson.loads would build the whole object first: most keys of a Traefik
 * or Caddy line are never read. It checks the whole line against JSON's grammar as it goes, as
 * orjson does, and answers only where it is sure to give what the fallback (the orjson path)
 * gives; it hands the fallback every other line: not ASCII, not an object, not valid JSON (nginx's
 * \xHH escapes among them), a key the map names present twice (the last would win), a key written
 * with escapes in an object the map looks into, a \u escape of a surrogate, an integer of more
 * a number that could overflow a double, nesting deeper than JSON_MAX_DEPTH.
 *
 * The map arrives as a tree of `nodes` (node 0: the line's object), each a tuple of entries
 * (key, slot, child): the value of `key` is recorded in raw slot `slot` (-1: none), and when it is
 * an object the walk goes on in node `child` (-1: none). `fields` gives each output field as
 * (slots, convert, numeric): the first slot whose value is present and not null is the field's
 * value, passed through `convert` (a Python callable, or None) and then typed as pick() types
 * values (jsonmap.as_text, or jsonmap.as_number where numeric). A value given to a converter is
 * the one orjson would give (objects and arrays are built whole); when a converter raises
 * TypeError, ValueError or AttributeError the line gives None, as the orjson path does.
 * tests/test_scan.py checks it against the orjson path on generated, hostile, truncated and
 * mutated lines of every JSON format. */
#define JSON_MAX_SLOTS 64
#define JSON_MAX_ENTRIES 128
#define JSON_MAX_ALTS 8
#define JSON_MAX_DEPTH 64
#define JSON_BUCKETS 32

/* A value's kind. J_INT: an integer of at most 18 digits (its text is str() of its int, but for
 * -0); J_BIGINT: a longer one; J_NUMBER: one with a fraction or an exponent (a float). */
enum { J_MISSING = 0, J_NULL, J_FALSE, J_TRUE, J_STRING, J_INT, J_NUMBER, J_BIGINT, J_ARRAY, J_OBJECT };

typedef struct {
    Py_ssize_t start, end;  /* a string's text inside its quotes; any other value's whole text */
    unsigned char kind, escaped;
} jvalue;

typedef struct {
    char *key;
    Py_ssize_t len;
    int slot, child, next;  /* next: the following entry of the same bucket, or -1 */
} jentry;

typedef struct {
    int bucket[JSON_BUCKETS];  /* first entry of each bucket, or -1 */
} jnode;

/* The converters the scanner applies itself (formats/jsonmap.py's in_scanner codes), to the
 * values it is sure to convert as the Python function does; any other value goes to the function. */
enum { C_PYTHON = 0,  /* none: the Python function */
       C_FIRST,       /* jsonmap.first: an array's first element (None when empty), else the value */
       C_EMPTY_IS_NONE,  /* jsonmap.empty_is_none: None for "", else the value */
       C_FLOOR,       /* int(float(v) // 1), for numbers (jsonlogs.whole_seconds) */
       C_BY_MILLION,  /* v / 1000000, for integers of at most 15 digits and other numbers */
       C_BY_THOUSANDTH,  /* float(v) * 1000, for numbers (jsonlogs.seconds_to_milli) */
       C_CODES };

typedef struct {
    int alts[JSON_MAX_ALTS];
    int nalts, numeric, code;
    PyObject *convert;  /* NULL: none */
} jfield;

typedef struct {
    SCANNER_HEAD
    int nslots, nentries, nnodes, nfields;
    jentry *entries;
    jnode *nodes;
    jfield *fields;
} JsonScanner;

/* What one walk over a line needs. */
typedef struct {
    const char *s;
    Py_ssize_t n;
    const JsonScanner *sc;
    jvalue *vals;         /* per slot */
    unsigned char *seen;  /* per entry */
} jwalk;

#define IS_JSON_SPACE(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

static inline Py_ssize_t json_spaces(const char *s, Py_ssize_t n, Py_ssize_t p)
{
    while (p < n && IS_JSON_SPACE(s[p])) p++;
    return p;
}

static inline unsigned json_bucket(const char *k, Py_ssize_t len)
{
    unsigned h = (unsigned)len * 7;
    if (len > 0) h += (unsigned char)k[0] * 3 + (unsigned char)k[len - 1];
    return h & (JSON_BUCKETS - 1);
}

static inline int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The code point of the 4 hex digits at s, or -1. */
static inline long hex4(const char *s)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(s[i]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* A string from *pos (just after its opening quote) to its closing quote: *end is the closing
 * quote's position, *pos the character after it, *escaped whether it holds a backslash. 0 for a
 * string that is not JSON or not one the scanner is sure of: no closing quote, a control
 * character, an escape other than \" \\ \/ \b \f \n \r \t and \uXXXX, or a \u of a surrogate
 * (orjson's rules on those pairs are left to it). The line is ASCII, so 8 bytes at a time: in a
 * word, a byte's high bit in `hits` is set where it is a quote, a backslash or below 0x20 (and
 * maybe on bytes after such a byte, as the subtractions borrow upwards only): the lowest set bit
 * is the first byte of interest, on a little-endian machine. */
#if defined(__GNUC__)
__attribute__((always_inline))  /* the walk's most frequent call: its entry and exit cost as much as a key */
#endif
static inline int json_string(const char *s, Py_ssize_t n, Py_ssize_t *pos, Py_ssize_t *end, int *escaped)
{
    Py_ssize_t p = *pos;
    int esc = 0;
    for (;;) {
        uint64_t w, hits = 0;
        while (p + 8 <= n) {
            memcpy(&w, s + p, 8);
            hits = ((w ^ (0x22 * ONES)) - ONES) | ((w ^ (0x5C * ONES)) - ONES) | (w - 0x20 * ONES);
            if ((hits &= HIGHS) != 0) break;
            p += 8;
        }
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (hits != 0)
            p += __builtin_ctzll(hits) >> 3;
        else
#endif
        while (p < n && s[p] != '"' && s[p] != '\\' && (unsigned char)s[p] >= 0x20) p++;
        if (p >= n || (unsigned char)s[p] < 0x20) return 0;
        if (s[p] == '"') break;
        esc = 1;  /* a backslash */
        if (p + 1 >= n) return 0;
        switch (s[p + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;
        case 'u': {
            long cp = p + 6 <= n ? hex4(s + p + 2) : -1;
            if (cp < 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
            p += 6;
            break;
        }
        default:
            return 0;
        }
    }
    *end = p;
    *pos = p + 1;
    *escaped = esc;
    return 1;
}

/* A number at *pos, JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. 0 when it is
 * not one, or could be beyond a double's range (orjson refuses those: digits before the point
 * plus the exponent above 300; a rough bound that leaves a few finite numbers to the fallback). */
static int json_number(const char *s, Py_ssize_t n, Py_ssize_t *pos, unsigned char *kind)
{
    Py_ssize_t p = *pos, digits;
    long exp = 0;
    int integer = 1;
    if (p < n && s[p] == '-') p++;
    if (p >= n || !IS_DIGIT(s[p])) return 0;
    digits = p;
    if (s[p] == '0') p++;
    else while (p < n && IS_DIGIT(s[p])) p++;
    digits = p - digits;
    if (p < n && s[p] == '.') {
        p++;
        if (p >= n || !IS_DIGIT(s[p])) return 0;
        while (p < n && IS_DIGIT(s[p])) p++;
        integer = 0;
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        int negative = 0;
        p++;
        if (p < n && (s[p] == '+' || s[p] == '-')) negative = s[p++] == '-';
        if (p >= n || !IS_DIGIT(s[p])) return 0;
        while (p < n && IS_DIGIT(s[p])) {
            if (exp < 100000) exp = exp * 10 + (s[p] - '0');
            p++;
        }
        if (negative) exp = -exp;
        integer = 0;
    }
    if (digits + exp > 300) return 0;
    *kind = !integer ? J_NUMBER : digits <= 18 ? J_INT : J_BIGINT;
    *pos = p;
    return 1;
}

static int json_value(jwalk *w, Py_ssize_t *pos, int node, int depth, jvalue *out);

/* The object at *pos (its opening brace). In `node` (-1: a node the map does not look into),
 * the values of the map's keys are recorded in their slots, and nested objects walked in their
 * child nodes. */
static int json_object(jwalk *w, Py_ssize_t *pos, int node, int depth)
{
    const char *s = w->s;
    Py_ssize_t n = w->n, p = json_spaces(s, n, *pos + 1);
    if (depth > JSON_MAX_DEPTH) return 0;
    if (p < n && s[p] == '}') {
        *pos = p + 1;
        return 1;
    }
    for (;;) {
        Py_ssize_t key, key_end;
        int escaped, e = -1, child = -1;
        jvalue v;
        if (p >= n || s[p] != '"') return 0;
        key = ++p;
        if (!json_string(s, n, &p, &key_end, &escaped)) return 0;
        if (node >= 0) {
            if (escaped) return 0;  /* it might name one of the map's keys */
            Py_ssize_t len = key_end - key;
            for (e = w->sc->nodes[node].bucket[json_bucket(s + key, len)]; e >= 0; e = w->sc->entries[e].next)
                if (w->sc->entries[e].len == len && memcmp(w->sc->entries[e].key, s + key, len) == 0) break;
            if (e >= 0) {
                if (w->seen[e]) return 0;  /* twice: the last one wins, which the fallback says */
                w->seen[e] = 1;
                child = w->sc->entries[e].child;
            }
        }
        p = json_spaces(s, n, p);
        if (p >= n || s[p] != ':') return 0;
        p = json_spaces(s, n, p + 1);
        if (!json_value(w, &p, child, depth, &v)) return 0;
        if (e >= 0 && w->sc->entries[e].slot >= 0) w->vals[w->sc->entries[e].slot] = v;
        p = json_spaces(s, n, p);
        if (p < n && s[p] == ',') {
            p = json_spaces(s, n, p + 1);
            continue;
        }
        if (p < n && s[p] == '}') break;
        return 0;
    }
    *pos = p + 1;
    return 1;
}

/* Any value at *pos (no whitespace before it): *out says where it is and its kind. */
static int json_value(jwalk *w, Py_ssize_t *pos, int node, int depth, jvalue *out)
{
    const char *s = w->s;
    Py_ssize_t n = w->n, p = *pos;
    int escaped = 0;
    if (p >= n) return 0;
    out->start = p;
    out->escaped = 0;
    switch (s[p]) {
    case '"':
        out->start = ++p;
        if (!json_string(s, n, &p, &out->end, &escaped)) return 0;
        out->kind = J_STRING;
        out->escaped = (unsigned char)escaped;
        *pos = p;
        return 1;
    case '{':
        if (!json_object(w, &p, node, depth + 1)) return 0;
        out->kind = J_OBJECT;
        break;
    case '[':
        if (depth + 1 > JSON_MAX_DEPTH) return 0;
        p = json_spaces(s, n, p + 1);
        if (p < n && s[p] == ']') {
            p++;
        } else {
            for (;;) {
                jvalue item;
                if (!json_value(w, &p, -1, depth + 1, &item)) return 0;
                p = json_spaces(s, n, p);
                if (p < n && s[p] == ',') {
                    p = json_spaces(s, n, p + 1);
                    continue;
                }
                if (p < n && s[p] == ']') break;
                return 0;
            }
            p++;
        }
        out->kind = J_ARRAY;
        break;
    case 't':
        if (n - p < 4 || memcmp(s + p, "true", 4) != 0) return 0;
        p += 4;
        out->kind = J_TRUE;
        break;
    case 'f':
        if (n - p < 5 || memcmp(s + p, "false", 5) != 0) return 0;
        p += 5;
        out->kind = J_FALSE;
        break;
    case 'n':
        if (n - p < 4 || memcmp(s + p, "null", 4) != 0) return 0;
        p += 4;
        out->kind = J_NULL;
        break;
    default:
        if (!json_number(s, n, &p, &out->kind)) return 0;
    }
    out->end = p;
    *pos = p;
    return 1;
}

/* The str of a string value (its escapes decoded); ASCII values without escapes are interned. */
static PyObject *json_text(JsonScanner *self, const char *s, Py_ssize_t start, Py_ssize_t end, int escaped,
                           int slot)
{
    Py_UCS4 small[256], *buf;
    Py_ssize_t k = 0;
    PyObject *u;
    if (!escaped) {
        span sp = {start, end};
        return ascii_string(self->intern, s, sp, slot);
    }
    small[0] = 0;
    buf = end - start <= 256 ? small : PyMem_Malloc((end - start) * sizeof(Py_UCS4));
    if (buf == NULL) return PyErr_NoMemory();
    for (Py_ssize_t p = start; p < end; p++) {
        if (s[p] != '\\') {
            buf[k++] = (unsigned char)s[p];
            continue;
        }
        switch (s[++p]) {  /* json_string() let only these through */
        case 'b': buf[k++] = '\b'; break;
        case 'f': buf[k++] = '\f'; break;
        case 'n': buf[k++] = '\n'; break;
        case 'r': buf[k++] = '\r'; break;
        case 't': buf[k++] = '\t'; break;
        case 'u': buf[k++] = (Py_UCS4)hex4(s + p + 1); p += 4; break;
        default: buf[k++] = (unsigned char)s[p];  /* " \ / */
        }
    }
    u = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, k);
    if (buf != small) PyMem_Free(buf);
    return u;
}

/* A number value as orjson gives it: a float for a fraction or an exponent; an integer is an int
 * where it fits in 64 bits (-2**63 to 2**64-1), a float beyond. */
static PyObject *json_number_object(const char *s, const jvalue *v)
{
    if (v->kind != J_NUMBER) {
        int negative = s[v->start] == '-', fits = 1;
        unsigned long long x = 0;
        for (Py_ssize_t p = v->start + negative; p < v->end && fits; p++) {
            unsigned d = s[p] - '0';
            if (x > (ULLONG_MAX - d) / 10) fits = 0;
            x = x * 10 + d;
        }
        if (fits && !negative) return PyLong_FromUnsignedLongLong(x);
        if (fits && x <= (unsigned long long)LLONG_MAX) return PyLong_FromLongLong(-(long long)x);
        if (fits && x == (unsigned long long)LLONG_MAX + 1) return PyLong_FromLongLong(LLONG_MIN);
    }
    char *stop;
    double d = PyOS_string_to_double(s + v->start, &stop, NULL);
    if (d == -1.0 && PyErr_Occurred()) return NULL;
    if (stop != s + v->end) {
        PyErr_SetString(PyExc_SystemError, "JsonScanner: a number it could not read");
        return NULL;
    }
    return PyFloat_FromDouble(d);
}

/* The Python object orjson makes of the value at *pos (checked by the walk already): for a
 * converter. A new reference, or NULL with an exception. */
static PyObject *json_build(JsonScanner *self, const char *s, Py_ssize_t n, Py_ssize_t *pos)
{
    Py_ssize_t p = *pos, end = p;
    int escaped = 0;
    jvalue v;
    PyObject *x = NULL;
    switch (s[p]) {
    case '"':
        p++;
        json_string(s, n, &p, &end, &escaped);
        x = json_text(self, s, *pos + 1, end, escaped, JSON_MAX_SLOTS);
        break;
    case '{': case '[': {
        int object = s[p] == '{';
        char close = object ? '}' : ']';
        x = object ? PyDict_New() : PyList_New(0);
        if (x == NULL) return NULL;
        p = json_spaces(s, n, p + 1);
        while (s[p] != close) {
            PyObject *key = NULL, *item;
            int err;
            if (object) {
                Py_ssize_t k = ++p;
                json_string(s, n, &p, &end, &escaped);
                if ((key = json_text(self, s, k, end, escaped, JSON_MAX_SLOTS)) == NULL) {
                    Py_DECREF(x);
                    return NULL;
                }
                p = json_spaces(s, n, json_spaces(s, n, p) + 1);  /* the colon */
            }
            if ((item = json_build(self, s, n, &p)) == NULL) {
                Py_XDECREF(key);
                Py_DECREF(x);
                return NULL;
            }
            err = object ? PyDict_SetItem(x, key, item) : PyList_Append(x, item);
            Py_XDECREF(key);
            Py_DECREF(item);
            if (err < 0) {
                Py_DECREF(x);
                return NULL;
            }
            p = json_spaces(s, n, p);
            if (s[p] == ',') p = json_spaces(s, n, p + 1);
        }
        p++;
        break;
    }
    case 't': x = Py_True; Py_INCREF(x); p += 4; break;
    case 'f': x = Py_False; Py_INCREF(x); p += 5; break;
    case 'n': x = Py_None; Py_INCREF(x); p += 4; break;
    default:
        v.start = p;
        json_number(s, n, &p, &v.kind);
        v.end = p;
        x = json_number_object(s, &v);
    }
    *pos = p;
    return x;
}

/* A field's value from its raw value, without a converter: typed_object() of what orjson would
 * give, made from the text. */
static PyObject *typed_value(JsonScanner *self, const char *s, const jvalue *v, int numeric, int slot)
{
    switch (v->kind) {
    case J_STRING:
        return json_text(self, s, v->start, v->end, v->escaped, slot);
    case J_INT:
        if (!numeric) {  /* str() of an int is its JSON text, but for -0 */
            if (v->end - v->start == 2 && s[v->start] == '-') return PyUnicode_FromOrdinal('0');
            span sp = {v->start, v->end};
            return ascii_string(self->intern, s, sp, slot);
        }
        return json_number_object(s, v);
    case J_BIGINT: case J_NUMBER: {
        PyObject *x = json_number_object(s, v), *t;
        if (x == NULL || numeric) return x;
        t = PyObject_Str(x);
        Py_DECREF(x);
        return t;
    }
    default:  /* an object, an array, a bool */
        Py_RETURN_NONE;
    }
}

/* The value of a number's text as Python's float() of what orjson gives: correctly rounded (an
 * integer's is exact up to 15 digits), and an integer -0 is 0 (orjson gives the int 0). */
static double json_double(const char *s, const jvalue *v)
{
    char *stop;  /* the text goes on after the number: stop there */
    double d = PyOS_string_to_double(s + v->start, &stop, NULL);
    return v->kind == J_INT && d == 0 ? 0.0 : d;
}

/* The field's value through converter `code` (the C_ codes), or NULL with *handled = 0 where
 * the Python converter must decide (a string for the numeric ones, a long integer). */
static PyObject *converted_in_c(JsonScanner *self, const char *s, Py_ssize_t n, const jvalue *v, int code,
                                int numeric, int slot, int *handled)
{
    int number = v->kind == J_INT || v->kind == J_NUMBER;
    PyObject *x, *out;
    *handled = 1;
    switch (code) {
    case C_FIRST:
        if (v->kind == J_ARRAY) {
            jwalk w = {s, n, self, NULL, NULL};
            jvalue item;
            Py_ssize_t p = json_spaces(s, n, v->start + 1);
            if (s[p] == ']') Py_RETURN_NONE;
            json_value(&w, &p, -1, 1, &item);  /* checked by the walk already */
            return typed_value(self, s, &item, numeric, slot);
        }
        return typed_value(self, s, v, numeric, slot);
    case C_EMPTY_IS_NONE:
        if (v->kind == J_STRING && v->start == v->end) Py_RETURN_NONE;
        return typed_value(self, s, v, numeric, slot);
    case C_FLOOR:
        if (!number) break;
        x = PyLong_FromDouble(floor(json_double(s, v)));
        goto typed;
    case C_BY_MILLION:
        if (!number || (v->kind == J_INT && v->end - v->start - (s[v->start] == '-') > 15)) break;
        x = PyFloat_FromDouble(json_double(s, v) / 1000000.0);
        goto typed;
    case C_BY_THOUSANDTH:
        if (!number) break;
        x = PyFloat_FromDouble(json_double(s, v) * 1000.0);
        goto typed;
    }
    *handled = 0;
    return NULL;
typed:
    if (x == NULL) return NULL;
    out = typed_object(x, numeric);
    Py_DECREF(x);
    return out;
}

static PyObject *JsonScanner_extract(JsonScanner *self, PyObject *line)
{
    jvalue vals[JSON_MAX_SLOTS];
    unsigned char seen[JSON_MAX_ENTRIES];
    Py_ssize_t n, p;
    PyObject *answer, *out;
    const char *s = ascii_line((ScannerBase *)self, line, &n, &answer);
    if (s == NULL)
        return answer;
    memset(vals, 0, self->nslots * sizeof(jvalue));
    memset(seen, 0, self->nentries);
    jwalk w = {s, n, self, vals, seen};
    p = json_spaces(s, n, 0);
    if (p >= n || s[p] != '{' || !json_object(&w, &p, 0, 1) || json_spaces(s, n, p) != n)
        return PyObject_CallOneArg(self->fallback, line);
    if ((out = PyTuple_New(self->nfields)) == NULL) return NULL;
    for (int i = 0; i < self->nfields; i++) {
        const jfield *f = &self->fields[i];
        const jvalue *v = NULL;
        PyObject *x;
        int slot = -1, handled;
        for (int a = 0; a < f->nalts && v == NULL; a++)
            if (vals[f->alts[a]].kind > J_NULL) v = &vals[slot = f->alts[a]];
        if (v == NULL) {
            x = Py_None;
            Py_INCREF(x);
        } else if (f->convert == NULL) {
            x = typed_value(self, s, v, f->numeric, slot);
        } else if (f->code != C_PYTHON && ((x = converted_in_c(self, s, n, v, f->code, f->numeric, slot, &handled))
                                           != NULL || handled)) {
            ;  /* converted here, or an error */
        } else {
            Py_ssize_t at = v->kind == J_STRING ? v->start - 1 : v->start;
            PyObject *raw = json_build(self, s, n, &at), *converted;
            if (raw == NULL) {
                x = NULL;
            } else {
                converted = PyObject_CallOneArg(f->convert, raw);
                Py_DECREF(raw);
                if (converted == NULL) {
                    Py_DECREF(out);
                    if (PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_ValueError)
                        || PyErr_ExceptionMatches(PyExc_AttributeError)) {
                        PyErr_Clear();  /* a converter refused the value: not a line of the format */
                        Py_RETURN_NONE;
                    }
                    return NULL;
                }
                x = typed_object(converted, f->numeric);
                Py_DECREF(converted);
            }
        }
        if (x == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, x);
    }
    return out;
}

static void json_scanner_dealloc(JsonScanner *self)
{
    for (int i = 0; i < self->nentries; i++) PyMem_Free(self->entries[i].key);
    for (int i = 0; i < self->nfields; i++) Py_XDECREF(self->fields[i].convert);
    PyMem_Free(self->entries);
    PyMem_Free(self->nodes);
    PyMem_Free(self->fields);
    scanner_dealloc((ScannerBase *)self);
}

#define JSON_SPEC_ERROR "JsonScanner(nodes, fields, fallback): nodes is a tuple of tuples of (key: str, slot, " \
    "child), at most 128 entries in all; fields a tuple of (slots: tuple, convert, numeric, " \
    "code: 0 or the C converter's); at most 64 slots, 8 a field"

static int JsonScanner_init(JsonScanner *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"nodes", "fields", "fallback", NULL};
    PyObject *nodes, *fields, *fallback;
    if (self->entries != NULL) {
        PyErr_SetString(PyExc_TypeError, "JsonScanner is initialised once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O", kwlist, &PyTuple_Type, &nodes, &PyTuple_Type, &fields,
                                     &fallback))
        return -1;
    Py_ssize_t nnodes = PyTuple_GET_SIZE(nodes), nfields = PyTuple_GET_SIZE(fields), nentries = 0;
    int nslots = 0;
    for (Py_ssize_t i = 0; i < nnodes; i++) {
        PyObject *node = PyTuple_GET_ITEM(nodes, i);
        if (!PyTuple_Check(node)) goto bad;
        nentries += PyTuple_GET_SIZE(node);
    }
    if (nnodes < 1 || nentries > JSON_MAX_ENTRIES || nfields > NFIELDS + JSON_MAX_SLOTS) goto bad;
    self->entries = PyMem_Calloc(nentries ? nentries : 1, sizeof(jentry));
    self->nodes = PyMem_Calloc(nnodes, sizeof(jnode));
    self->fields = PyMem_Calloc(nfields ? nfields : 1, sizeof(jfield));
    if (self->entries == NULL || self->nodes == NULL || self->fields == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < nnodes; i++) {
        PyObject *node = PyTuple_GET_ITEM(nodes, i);
        for (int b = 0; b < JSON_BUCKETS; b++) self->nodes[i].bucket[b] = -1;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(node); j++) {
            PyObject *entry = PyTuple_GET_ITEM(node, j), *key;
            jentry *e = &self->entries[self->nentries];
            const char *k;
            if (!PyArg_ParseTuple(entry, "Uii", &key, &e->slot, &e->child)) return -1;
            if ((k = PyUnicode_AsUTF8AndSize(key, &e->len)) == NULL) return -1;
            if ((e->key = PyMem_Malloc(e->len ? e->len : 1)) == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            memcpy(e->key, k, e->len);
            self->nentries++;
            if (e->slot < -1 || e->slot >= JSON_MAX_SLOTS || e->child < -1 || e->child >= nnodes || e->child == 0)
                goto bad;
            if (e->slot >= nslots) nslots = e->slot + 1;
            unsigned b = json_bucket(e->key, e->len);
            e->next = self->nodes[i].bucket[b];
            self->nodes[i].bucket[b] = self->nentries - 1;
        }
    }
    for (Py_ssize_t i = 0; i < nfields; i++) {
        PyObject *spec = PyTuple_GET_ITEM(fields, i), *alts, *convert;
        jfield *f = &self->fields[i];
        if (!PyArg_ParseTuple(spec, "O!Opi", &PyTuple_Type, &alts, &convert, &f->numeric, &f->code)) return -1;
        if (PyTuple_GET_SIZE(alts) > JSON_MAX_ALTS || (convert != Py_None && !PyCallable_Check(convert))
            || f->code < 0 || f->code >= C_CODES || (f->code != C_PYTHON && convert == Py_None)) goto bad;
        for (Py_ssize_t a = 0; a < PyTuple_GET_SIZE(alts); a++) {
            long slot = PyLong_AsLong(PyTuple_GET_ITEM(alts, a));
            if (slot == -1 && PyErr_Occurred()) return -1;
            if (slot < 0 || slot >= nslots) goto bad;
            f->alts[f->nalts++] = (int)slot;
        }
        if (convert != Py_None) {
            Py_INCREF(convert);
            f->convert = convert;
        }
        self->nfields++;
    }
    self->nslots = nslots;
    return set_fallback((ScannerBase *)self, fallback);
bad:
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, JSON_SPEC_ERROR);
    return -1;
}

static PyMethodDef JsonScanner_methods[] = {
    {"extract", (PyCFunction)JsonScanner_extract, METH_O,
     "extract(line) -> tuple of the fields, or what the fallback says"},
    {NULL}
};

static PyTypeObject JsonScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "formats._scan.JsonScanner",
    .tp_basicsize = sizeof(JsonScanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "JsonScanner(nodes, fields, fallback): the JSON map formats' line scanner",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)JsonScanner_init,
    .tp_dealloc = (destructor)json_scanner_dealloc,
    .tp_methods = JsonScanner_methods,
};

static PyMethodDef module_methods[] = {
    {"split_ascii", split_ascii, METH_O,
     "split_ascii(data) -> data.decode('ascii').split('\\n'), for data that is ASCII"},
    {"pick", (PyCFunction)(void (*)(void))pick, METH_FASTCALL,
     "pick(obj, keys, numeric) -> tuple of obj's values for the keys, each of its field's type"},
    {NULL}
};

static struct PyModuleDef scanmodule = {
    PyModuleDef_HEAD_INIT, "formats._scan",
    "Hand-written scanners for the Apache/NCSA, W3C and JSON log formats", -1,
    module_methods
};

PyMODINIT_FUNC PyInit__scan(void)
{
    init_tables();
    if (PyType_Ready(&ScannerType) < 0 || PyType_Ready(&TokenScannerType) < 0
        || PyType_Ready(&JsonScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&scanmodule);
    if (m == NULL) return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&TokenScannerType);
    if (PyModule_AddObject(m, "TokenScanner", (PyObject *)&TokenScannerType) < 0) {
        Py_DECREF(&TokenScannerType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&JsonScannerType);
    if (PyModule_AddObject(m, "JsonScanner", (PyObject *)&JsonScannerType) < 0) {
        Py_DECREF(&JsonScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
