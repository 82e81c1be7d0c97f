/* Hand-written line scanners: the parsing hot path.
 *
 * Scanner: the Apache/NCSA family (formats/apache.py). It accepts exactly the lines the family's
 * regexes accept and gives the same fields: the regexes never backtrack (but in one place, see
 * scan()), so each reads as a left-to-right scan, written out here.
 * TokenScanner: the W3C formats (formats/w3c.py); it answers only for the lines where the regex's
 * first attempt must succeed, and leaves every other line to the regex.
 * split_ascii: a chunk into lines, with memchr.
 * pick: the JSON decoder's values (formats/jsonmap.py), read from a decoded object by key, each
 * of its field's type.
 * tests/test_scan.py checks each scanner against its regex on generated, hostile, truncated and
 * mutated lines; benchmarks/run.py's dry-regex scenario measures what they gain.
 *
 * Only ASCII lines are scanned here; any other line goes to the fallback (the regex), so the
 * Unicode meaning of \s, \w and \d never has to be reproduced. For ASCII, Python's \s is
 * [\t\n\v\f\r\x1c-\x1f ], \w is [A-Za-z0-9_] and \d is [0-9].
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
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
        if (v == NULL || v == Py_None) {
            v = Py_None;
            Py_INCREF(v);
        } else if (PyUnicode_CheckExact(v)) {
            Py_INCREF(v);
        } else if (PyLong_CheckExact(v) || PyFloat_CheckExact(v)) {
            if (numeric[i]) {
                Py_INCREF(v);
            } else if ((v = PyObject_Str(v)) == NULL) {
                Py_DECREF(out);
                return NULL;
            }
        } else {
            v = Py_None;
            Py_INCREF(v);
        }
        PyTuple_SET_ITEM(out, i, v);
    }
    return out;
}

static PyMethodDef module_methods[] = {
    {"split_ascii", split_ascii, METH_O,
     "split_ascii(data) -> data.decode('ascii').split('\\n'), for data that is ASCII"},
    {"pick", (PyCFunction)(void (*)(void))pick, METH_FASTCALL,
     "pick(obj, keys, numeric) -> tuple of obj's values for the keys, each of its field's type"},
    {NULL}
};

static struct PyModuleDef scanmodule = {
    PyModuleDef_HEAD_INIT, "formats._scan",
    "Hand-written scanners for the Apache/NCSA and W3C log formats, and the JSON decoder's picker", -1,
    module_methods
};

PyMODINIT_FUNC PyInit__scan(void)
{
    init_tables();
    if (PyType_Ready(&ScannerType) < 0 || PyType_Ready(&TokenScannerType) < 0) return NULL;
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
    return m;
}
