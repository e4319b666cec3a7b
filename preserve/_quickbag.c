/*
 * preserve._quickbag: the verifier's quick path for a clean bag, in one call.
 *
 * preserve/verify/quick.py checks a bag that is plainly in order (the common
 * case) and hands anything else to the general checker. In Python that path
 * spends about as long in the interpreter (a call, an object, a dictionary
 * operation per step) as in the system calls and hashing it needs. This module
 * makes the same steps in one call: it lists the bag, reads bagit.txt and the
 * manifests, reads every payload file once and compares its digests (computed
 * by the hashlib constructors it is given), and hashes the tag files the tag
 * manifests list. It is stricter than quick.py, never looser: at anything it
 * does not expect (a link, a FIFO, a tag folder, a byte over 0x7f or a control
 * character in a manifest, a CR, a blank, "*", "./" or "%" in a manifest line,
 * a duplicate, a digest of the wrong length, a file set that differs, a digest
 * that differs, a bagit.txt other than the two canonical ones, any limit) it
 * returns None and the bag goes to the general checker, which says what is
 * wrong. Names, bag-info.txt and the Payload-Oxum are checked here only when
 * they are plain, else in Python, on what this returns (quick.py). tests/test_verify_quick.py runs every bag both
 * with and without this module and requires the general checker's result.
 *
 * check(path, constructors, max_entries, max_depth, longest, max_line, max_files,
 *       tag_limit, manifest_limit, info_limit, file_limit, total_limit, system_names)
 *   -> None, or (version, top, payload, sizes, dirs, cache, payload_algorithms,
 *                tag_algorithms, tag_paths, tag_bytes, plain)
 * where plain is True when the names and bag-info.txt need no further look: plain
 * names (no system file among them, none differing only in case) and a bag-info of
 * plain lines whose Payload-Oxum agrees; False: quick.py checks them itself.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifndef __linux__
#error "preserve._quickbag lists folders with Linux's getdents64; elsewhere quick.py runs"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OPEN_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Outcomes of the helpers: go on, not plain (None, no exception), or an exception. */
#define OK 1
#define PLAIN_NOT 0
#define FAILED -1

static const char *const BAGIT_10 = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
static const char *const BAGIT_097 = "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n";

typedef struct {
    const char *name;
    int hex_length;
} Algorithm;

static const Algorithm ALGORITHMS[] = {
    {"md5", 32},    {"sha1", 40},   {"sha224", 56},
    {"sha256", 64}, {"sha384", 96}, {"sha512", 128},
};

/* The hex length of a known algorithm, 0 for an unknown one. */
static int
hex_length(const char *alg, size_t len)
{
    for (size_t i = 0; i < sizeof(ALGORITHMS) / sizeof(ALGORITHMS[0]); i++) {
        if (strlen(ALGORITHMS[i].name) == len && memcmp(ALGORITHMS[i].name, alg, len) == 0)
            return ALGORITHMS[i].hex_length;
    }
    return 0;
}

/* One entry as getdents64 writes it (linux/dirent.h). */
typedef struct {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
} Entry;

/* A folder open as fd, read with getdents64 into a buffer of our own: readdir
 * would need fdopendir, which costs an fstat and an fcntl a folder. */
typedef struct {
    int fd;
    long pos, end;
    char *buffer;
} Folder;

#define FOLDER_BUFFER 16384

/* 1: a regular file, 2: a folder, 0: anything else (or an error). */
static int
kind_of(int dir_fd, Entry *entry)
{
    struct stat st;
    switch (entry->d_type) {
    case DT_REG:
        return 1;
    case DT_DIR:
        return 2;
    case DT_UNKNOWN:
        if (fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return 0;
        return S_ISREG(st.st_mode) ? 1 : S_ISDIR(st.st_mode) ? 2 : 0;
    default:
        return 0;
    }
}

static int
is_ascii_name(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f)
            return 0;
    }
    return 1;
}

/* The next entry of the folder other than "." and "..", or NULL at the end; *result
 * is set to PLAIN_NOT if reading the folder failed. */
static Entry *
next_entry(Folder *folder, int *result)
{
    for (;;) {
        if (folder->pos >= folder->end) {
            long got = syscall(SYS_getdents64, folder->fd, folder->buffer, FOLDER_BUFFER);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                if (got < 0)
                    *result = PLAIN_NOT;
                return NULL;
            }
            folder->pos = 0;
            folder->end = got;
        }
        Entry *entry = (Entry *)(folder->buffer + folder->pos);
        folder->pos += entry->d_reclen;
        const char *name = entry->d_name;
        if (!(name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))))
            return entry;
    }
}

typedef struct {
    PyObject *payload; /* list of str */
    PyObject *dirs;    /* list of str */
    Py_ssize_t left;
    long max_depth;
    size_t longest;
} Walk;

/* Lists the folder open as fd (closed here), bag-relative prefix ending in "/". */
static int
walk(Walk *w, int fd, char *prefix, size_t prefix_len, long depth)
{
    Folder dir = {fd, 0, 0, PyMem_Malloc(FOLDER_BUFFER)};
    if (dir.buffer == NULL) {
        close(fd);
        PyErr_NoMemory();
        return FAILED;
    }
    int result = OK;
    Entry *entry;
    while ((entry = next_entry(&dir, &result)) != NULL) {
        const char *name = entry->d_name;
        size_t name_len = strlen(name);
        if (--w->left <= 0 || prefix_len + name_len + 1 > w->longest || !is_ascii_name(name)) {
            result = PLAIN_NOT;
            break;
        }
        int kind = kind_of(fd, entry);
        if (kind == 0) {
            result = PLAIN_NOT;
            break;
        }
        char *rel = PyMem_Malloc(prefix_len + name_len + 2);
        if (rel == NULL) {
            PyErr_NoMemory();
            result = FAILED;
            break;
        }
        memcpy(rel, prefix, prefix_len);
        memcpy(rel + prefix_len, name, name_len + 1);
        size_t rel_len = prefix_len + name_len;
        PyObject *text = PyUnicode_DecodeASCII(rel, (Py_ssize_t)rel_len, "strict");
        if (text == NULL || PyList_Append(kind == 1 ? w->payload : w->dirs, text) != 0) {
            Py_XDECREF(text);
            PyMem_Free(rel);
            result = FAILED;
            break;
        }
        Py_DECREF(text);
        if (kind == 2) {
            int child = depth + 1 > w->max_depth ? -1 : openat(fd, name, DIR_FLAGS);
            if (child < 0) {
                PyMem_Free(rel);
                result = PLAIN_NOT;
                break;
            }
            rel[rel_len] = '/';
            rel[rel_len + 1] = '\0';
            result = walk(w, child, rel, rel_len + 1, depth + 1);
        }
        PyMem_Free(rel);
        if (result != OK)
            break;
    }
    PyMem_Free(dir.buffer);
    close(fd);
    return result;
}

/* The bytes of one file (a new reference), or NULL: not plain when no exception is set. */
static PyObject *
read_file(int dir_fd, const char *name, Py_ssize_t limit)
{
    int fd = openat(dir_fd, name, OPEN_FLAGS);
    if (fd < 0)
        return NULL;
    struct stat st;
    PyObject *data = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > limit)
        goto done;
    Py_ssize_t size = (Py_ssize_t)st.st_size;
    data = PyBytes_FromStringAndSize(NULL, size + 1);
    if (data == NULL)
        goto done;
    char *buffer = PyBytes_AS_STRING(data);
    Py_ssize_t got = 0;
    while (got <= size) {
        ssize_t n = read(fd, buffer + got, (size_t)(size + 1 - got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += n;
        /* All that fstat promised, from a read asked for one byte more: a regular
           file's read stops short only at its end, so no second read to see EOF. */
        if (got == size)
            break;
    }
    if (got != size) { /* an error, or it grew (size + 1 read) or shrank while read */
        Py_CLEAR(data);
        goto done;
    }
    if (_PyBytes_Resize(&data, size) != 0)
        data = NULL; /* MemoryError set */
done:
    close(fd);
    return data;
}

static int
is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* {path: lower-case digest} of a manifest of plain lines, or NULL (see OK/PLAIN_NOT). */
static PyObject *
parse_manifest(PyObject *bytes, int hexlen, Py_ssize_t max_line, Py_ssize_t max_files)
{
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(bytes);
    Py_ssize_t size = PyBytes_GET_SIZE(bytes);
    if (size == 0)
        return NULL;
    for (Py_ssize_t i = 0; i < size; i++) {
        if (data[i] >= 0x7f || (data[i] < 0x20 && data[i] != '\n' && data[i] != '\t'))
            return NULL; /* not ASCII, or CR or another control character */
    }
    PyObject *listed = PyDict_New();
    if (listed == NULL)
        return NULL;
    char digest[129];
    Py_ssize_t pos = 0;
    while (pos < size) {
        const unsigned char *line = data + pos;
        const unsigned char *end = memchr(line, '\n', (size_t)(size - pos));
        Py_ssize_t len = end ? end - line : size - pos;
        pos += len + 1;
        Py_ssize_t i = 0;
        if (len <= hexlen || len > max_line)
            goto not_plain;
        for (; i < hexlen; i++) {
            if (!is_hex(line[i]))
                goto not_plain;
            digest[i] = (char)(line[i] >= 'A' && line[i] <= 'F' ? line[i] + 32 : line[i]);
        }
        if (line[i] != ' ' && line[i] != '\t')
            goto not_plain;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i >= len || line[i] == '*' || line[i] == '.' || line[i] == '%')
            goto not_plain;
        if (memchr(line + i, '%', (size_t)(len - i)) != NULL)
            goto not_plain;
        if (PyDict_GET_SIZE(listed) >= max_files)
            goto not_plain;
        PyObject *path = PyUnicode_DecodeASCII((const char *)line + i, len - i, "strict");
        PyObject *hex = PyUnicode_DecodeASCII(digest, hexlen, "strict");
        int taken = path && hex ? PyDict_Contains(listed, path) : -1;
        if (taken == 0 && PyDict_SetItem(listed, path, hex) != 0)
            taken = -1;
        Py_XDECREF(path);
        Py_XDECREF(hex);
        if (taken < 0) {
            Py_DECREF(listed);
            return NULL; /* exception set */
        }
        if (taken)
            goto not_plain; /* listed twice */
    }
    return listed;
not_plain:
    Py_DECREF(listed);
    return NULL;
}

/* Whether hashing data with ctor gives expected (a str of lower-case hex). */
static int
digest_matches(PyObject *ctor, PyObject *data, PyObject *expected)
{
    PyObject *hasher = PyObject_CallOneArg(ctor, data);
    if (hasher == NULL)
        return FAILED;
    PyObject *hex = PyObject_CallMethod(hasher, "hexdigest", NULL);
    Py_DECREF(hasher);
    if (hex == NULL)
        return FAILED;
    int same = PyUnicode_Compare(hex, expected) == 0;
    Py_DECREF(hex);
    if (PyErr_Occurred())
        return FAILED;
    return same ? OK : PLAIN_NOT;
}

typedef struct {
    int dir_fd;
    PyObject *cache; /* {name: bytes} */
    Py_ssize_t tag_limit, manifest_limit, info_limit;
} Tags;

static int
starts_ends(const char *name, const char *head, const char *tail)
{
    size_t n = strlen(name), h = strlen(head), t = strlen(tail);
    return n >= h + t && memcmp(name, head, h) == 0 && memcmp(name + n - t, tail, t) == 0;
}

/* A top-level file's bytes, read once (borrowed from the cache), or NULL. */
static PyObject *
tag_bytes(Tags *tags, PyObject *name)
{
    PyObject *data = PyDict_GetItemWithError(tags->cache, name);
    if (data != NULL || PyErr_Occurred())
        return data;
    const char *text = PyUnicode_AsUTF8(name);
    if (text == NULL)
        return NULL;
    Py_ssize_t limit = strcmp(text, "bag-info.txt") == 0 ? tags->info_limit
                       : (starts_ends(text, "manifest-", ".txt") ||
                          starts_ends(text, "tagmanifest-", ".txt") || strcmp(text, "fetch.txt") == 0)
                           ? tags->manifest_limit
                           : tags->tag_limit;
    data = read_file(tags->dir_fd, text, limit);
    if (data == NULL)
        return NULL;
    int failed = PyDict_SetItem(tags->cache, name, data);
    Py_DECREF(data);
    return failed ? NULL : data;
}

/* Whether a character may be in a plain name (quick.py's _NAME), first or later in a
 * component: letters, digits and "_(+,=@-", then also ". )" and space. No component
 * starts with "." (no "..", no "._x", no ".DS_Store"), and nothing safe_relpath
 * refuses ("\", ":", "%", "~", controls) is in any. */
static int
name_char(unsigned char c, int first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    if (strchr("_(+,=@-", c) != NULL)
        return c != '\0';
    return !first && c != '\0' && strchr(". )", c) != NULL;
}

/* 1 if every "/"-separated component of name is plain, else 0. */
static int
plain_path(const char *name, size_t len)
{
    int first = 1;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/') {
            if (first)
                return 0; /* an empty component */
            first = 1;
        } else if (!name_char(c, first)) {
            return 0;
        } else {
            first = 0;
        }
    }
    return !first;
}

/* 1 when the names need none of quick.py's per-name rules: plain payload names
 * (data/...), no operating-system file (system: lower-case names), no two that differ
 * only in case, plain top-level tag names; 0 (quick.py decides), -1 (an exception). */
static int
plain_names(PyObject *payload, PyObject *tag_paths, PyObject *system)
{
    PyObject *lowered = PySet_New(NULL);
    if (lowered == NULL)
        return -1;
    int plain = 1;
    char buffer[4096];
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(payload) && plain == 1; i++) {
        Py_ssize_t len;
        const char *name = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(payload, i), &len);
        if (name == NULL) {
            plain = -1;
            break;
        }
        if (len < 6 || len >= (Py_ssize_t)sizeof(buffer) || memcmp(name, "data/", 5) != 0 ||
            !plain_path(name + 5, (size_t)len - 5)) {
            plain = 0;
            break;
        }
        for (Py_ssize_t j = 0; j < len; j++)
            buffer[j] = (char)((name[j] >= 'A' && name[j] <= 'Z') ? name[j] + 32 : name[j]);
        const char *base = memrchr(buffer, '/', (size_t)len) + 1;
        PyObject *low = PyUnicode_DecodeASCII(buffer, len, "strict");
        PyObject *low_base = PyUnicode_DecodeASCII(base, len - (base - buffer), "strict");
        int is_system = low_base ? PySequence_Contains(system, low_base) : -1;
        if (low == NULL || is_system < 0 || PySet_Add(lowered, low) != 0)
            plain = -1;
        else if (is_system)
            plain = 0;
        Py_XDECREF(low);
        Py_XDECREF(low_base);
    }
    if (plain == 1 && PySet_GET_SIZE(lowered) != PyList_GET_SIZE(payload))
        plain = 0; /* names that differ only in case */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(tag_paths) && plain == 1; i++) {
        Py_ssize_t len;
        const char *name = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(tag_paths, i), &len);
        if (name == NULL)
            plain = -1;
        else if (memchr(name, '/', (size_t)len) != NULL || !plain_path(name, (size_t)len))
            plain = 0;
    }
    Py_DECREF(lowered);
    return plain;
}

/* Whether value (len bytes) is "octets.files" with these numbers: 1-20 digits each,
 * as parse_oxum reads it (a value over 64 bits is not plain: quick.py decides). */
static int
oxum_is(const char *value, size_t len, unsigned long long octets, unsigned long long files)
{
    unsigned long long numbers[2] = {0, 0};
    int part = 0;
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = value[i];
        if (c == '.' && part == 0 && digits > 0) {
            part = 1;
            digits = 0;
        } else if (c >= '0' && c <= '9' && digits < 19) {
            numbers[part] = numbers[part] * 10 + (unsigned long long)(c - '0');
            digits++;
        } else {
            return 0;
        }
    }
    return part == 1 && digits > 0 && numbers[0] == octets && numbers[1] == files;
}

/* 1 for a bag-info.txt of plain lines only ("Label: value" in printable ASCII, a tab
 * allowed in a value, each line ended by LF: parse_bag_info finds nothing wrong in
 * it) whose Payload-Oxum values, if any, are all the same and say octets.files;
 * else 0 (quick.py decides). */
static int
plain_info(const char *data, Py_ssize_t size, unsigned long long octets, unsigned long long files)
{
    const char *p = data, *end = data + size, *oxum = NULL;
    size_t oxum_len = 0;
    while (p < end) {
        const char *label = p;
        while (p < end && *p >= '!' && *p <= '~' && *p != ':')
            p++;
        if (p == label || p >= end || *p != ':')
            return 0;
        size_t label_len = (size_t)(p - label);
        const char *value = ++p; /* after the colon */
        while (p < end && (*p == '\t' || (*p >= ' ' && *p <= '~')))
            p++;
        if (p >= end || *p != '\n')
            return 0;
        const char *value_end = p++;
        if (label_len != 12 || strncasecmp(label, "payload-oxum", 12) != 0)
            continue;
        while (value < value_end && (*value == ' ' || *value == '\t'))
            value++;
        while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
            value_end--;
        size_t len = (size_t)(value_end - value);
        if (oxum == NULL) {
            if (!oxum_is(value, len, octets, files))
                return 0;
            oxum = value;
            oxum_len = len;
        } else if (len != oxum_len || memcmp(value, oxum, len) != 0) {
            return 0;
        }
    }
    return 1;
}

static PyObject *
check(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *path_obj, *ctors, *system;
    Py_ssize_t max_entries, longest, max_line, max_files, tag_limit, manifest_limit,
        info_limit, file_limit, total_limit;
    long max_depth;
    if (!PyArg_ParseTuple(args, "O&O!nlnnnnnnnnO!", PyUnicode_FSConverter, &path_obj,
                          &PyDict_Type, &ctors, &max_entries, &max_depth, &longest, &max_line,
                          &max_files, &tag_limit, &manifest_limit, &info_limit, &file_limit,
                          &total_limit, &PyFrozenSet_Type, &system))
        return NULL;
    int dir_fd = open(PyBytes_AS_STRING(path_obj), DIR_FLAGS);
    Py_DECREF(path_obj);
    if (dir_fd < 0)
        Py_RETURN_NONE;

    int result = OK;
    PyObject *top = PyList_New(0), *top_set = NULL, *payload_set = NULL;
    PyObject *cache = PyDict_New(), *payload_m = PyDict_New(), *tag_m = PyDict_New();
    PyObject *sizes = PyList_New(0), *tag_paths = NULL, *out = NULL;
    Walk w = {PyList_New(0), PyList_New(0), max_entries, max_depth, (size_t)longest};
    Tags tags = {dir_fd, cache, tag_limit, manifest_limit, info_limit};
    const char *version = NULL;
    Py_ssize_t tag_total = 0;
    if (!top || !cache || !payload_m || !tag_m || !sizes || !w.payload || !w.dirs) {
        result = FAILED;
        goto end;
    }

    /* The top: regular files, and one folder, data/. */
    int data_fd = -1;
    Folder dir = {dir_fd, 0, 0, PyMem_Malloc(FOLDER_BUFFER)};
    if (dir.buffer == NULL) {
        PyErr_NoMemory();
        result = FAILED;
        goto end;
    }
    Entry *entry;
    while (result == OK && (entry = next_entry(&dir, &result)) != NULL) {
        const char *name = entry->d_name;
        int kind = kind_of(dir_fd, entry);
        if (--w.left <= 0 || strlen(name) > (size_t)longest || !is_ascii_name(name)) {
            result = PLAIN_NOT;
        } else if (kind == 1) {
            PyObject *text = PyUnicode_DecodeASCII(name, (Py_ssize_t)strlen(name), "strict");
            if (text == NULL || PyList_Append(top, text) != 0)
                result = FAILED;
            Py_XDECREF(text);
        } else if (kind == 2 && strcmp(name, "data") == 0 && data_fd < 0) {
            data_fd = openat(dir_fd, name, DIR_FLAGS);
            if (data_fd < 0)
                result = PLAIN_NOT;
        } else {
            result = PLAIN_NOT; /* a tag folder (signatures/...), a link, a FIFO... */
        }
    }
    PyMem_Free(dir.buffer);
    if (result == OK && data_fd < 0)
        result = PLAIN_NOT;
    if (result == OK) {
        char prefix[] = "data/";
        result = walk(&w, data_fd, prefix, 5, 1);
    } else if (data_fd >= 0) {
        close(data_fd);
    }
    if (result != OK)
        goto end;
    top_set = PySet_New(top);
    payload_set = PySet_New(w.payload);
    if (!top_set || !payload_set) {
        result = FAILED;
        goto end;
    }

    /* bagit.txt: one of the two canonical forms. */
    PyObject *name = PyUnicode_FromString("bagit.txt");
    PyObject *bagit = name ? tag_bytes(&tags, name) : NULL;
    Py_XDECREF(name);
    if (bagit == NULL) {
        result = PyErr_Occurred() ? FAILED : PLAIN_NOT;
        goto end;
    }
    if (strcmp(PyBytes_AS_STRING(bagit), BAGIT_10) == 0)
        version = "1.0";
    else if (strcmp(PyBytes_AS_STRING(bagit), BAGIT_097) == 0)
        version = "0.97";
    if (version == NULL || (size_t)PyBytes_GET_SIZE(bagit) != strlen(PyBytes_AS_STRING(bagit))) {
        result = PLAIN_NOT;
        goto end;
    }

    /* The manifests. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(top) && result == OK; i++) {
        PyObject *file = PyList_GET_ITEM(top, i);
        const char *text = PyUnicode_AsUTF8(file);
        if (text == NULL) {
            result = FAILED;
            break;
        }
        if (strcmp(text, "fetch.txt") == 0) {
            result = PLAIN_NOT;
            break;
        }
        int payload_kind = starts_ends(text, "manifest-", ".txt");
        int tag_kind = starts_ends(text, "tagmanifest-", ".txt");
        if (!payload_kind && !tag_kind)
            continue;
        const char *alg = text + (payload_kind ? 9 : 12);
        size_t alg_len = strlen(alg) - 4;
        int hexlen = hex_length(alg, alg_len);
        if (hexlen == 0) {
            result = PLAIN_NOT; /* an algorithm we do not know, or an odd name */
            break;
        }
        PyObject *alg_name = PyUnicode_DecodeASCII(alg, (Py_ssize_t)alg_len, "strict");
        PyObject *bytes = tag_bytes(&tags, file);
        PyObject *listed = bytes ? parse_manifest(bytes, hexlen, max_line, max_files) : NULL;
        if (alg_name == NULL || listed == NULL ||
            PyDict_SetItem(payload_kind ? payload_m : tag_m, alg_name, listed) != 0)
            result = PyErr_Occurred() ? FAILED : PLAIN_NOT;
        Py_XDECREF(alg_name);
        Py_XDECREF(listed);
    }
    if (result != OK)
        goto end;
    if (PyDict_GET_SIZE(payload_m) == 0) {
        result = PLAIN_NOT;
        goto end;
    }

    /* Every payload manifest lists exactly the files on disk. */
    Py_ssize_t at = 0;
    PyObject *key, *listed;
    while (PyDict_Next(payload_m, &at, &key, &listed)) {
        if (PyDict_GET_SIZE(listed) != PySet_GET_SIZE(payload_set)) {
            result = PLAIN_NOT;
            goto end;
        }
        Py_ssize_t j = 0;
        PyObject *path, *digest;
        while (PyDict_Next(listed, &j, &path, &digest)) {
            int present = PySet_Contains(payload_set, path);
            if (present <= 0) {
                result = present < 0 ? FAILED : PLAIN_NOT;
                goto end;
            }
        }
    }
    /* The tag manifests list the same top-level files, no tag manifest among them. */
    at = 0;
    while (PyDict_Next(tag_m, &at, &key, &listed)) {
        if (tag_paths == NULL) {
            tag_paths = PyDict_Keys(listed);
            if (tag_paths == NULL) {
                result = FAILED;
                goto end;
            }
        }
        if (PyDict_GET_SIZE(listed) != PyList_GET_SIZE(tag_paths)) {
            result = PLAIN_NOT;
            goto end;
        }
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(tag_paths); j++) {
            PyObject *path = PyList_GET_ITEM(tag_paths, j);
            int present = PyDict_Contains(listed, path);
            int on_top = present > 0 ? PySet_Contains(top_set, path) : present;
            const char *text = on_top > 0 ? PyUnicode_AsUTF8(path) : NULL;
            if (text == NULL || starts_ends(text, "tagmanifest-", ".txt")) {
                result = PyErr_Occurred() ? FAILED : PLAIN_NOT;
                goto end;
            }
        }
    }
    if (tag_paths == NULL && (tag_paths = PyList_New(0)) == NULL) {
        result = FAILED;
        goto end;
    }

    /* Each payload file read once, each of its digests compared. */
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(w.payload); i++) {
        PyObject *path = PyList_GET_ITEM(w.payload, i);
        const char *text = PyUnicode_AsUTF8(path);
        PyObject *data = text ? read_file(dir_fd, text, file_limit) : NULL;
        if (data == NULL) {
            result = PyErr_Occurred() ? FAILED : PLAIN_NOT;
            goto end;
        }
        total += PyBytes_GET_SIZE(data);
        PyObject *size = PyLong_FromSsize_t(PyBytes_GET_SIZE(data));
        if (size == NULL || PyList_Append(sizes, size) != 0)
            result = FAILED;
        Py_XDECREF(size);
        if (result == OK && total > total_limit)
            result = PLAIN_NOT; /* a bag this large is hashed over several threads */
        at = 0;
        while (result == OK && PyDict_Next(payload_m, &at, &key, &listed)) {
            PyObject *ctor = PyDict_GetItemWithError(ctors, key);
            PyObject *expected = PyDict_GetItemWithError(listed, path);
            result = ctor && expected ? digest_matches(ctor, data, expected)
                     : PyErr_Occurred() ? FAILED
                                        : PLAIN_NOT;
        }
        Py_DECREF(data);
        if (result != OK)
            goto end;
    }
    /* Each tag file the tag manifests list, hashed from the bytes read once. */
    at = 0;
    while (PyDict_Next(tag_m, &at, &key, &listed)) {
        PyObject *ctor = PyDict_GetItemWithError(ctors, key);
        if (ctor == NULL) {
            result = PyErr_Occurred() ? FAILED : PLAIN_NOT;
            goto end;
        }
        Py_ssize_t j = 0;
        PyObject *path, *digest;
        while (PyDict_Next(listed, &j, &path, &digest)) {
            PyObject *data = tag_bytes(&tags, path);
            result = data ? digest_matches(ctor, data, digest)
                     : PyErr_Occurred() ? FAILED
                                        : PLAIN_NOT;
            if (result != OK)
                goto end;
        }
    }
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(tag_paths); j++) {
        PyObject *data = tag_bytes(&tags, PyList_GET_ITEM(tag_paths, j));
        if (data == NULL) {
            result = PyErr_Occurred() ? FAILED : PLAIN_NOT;
            goto end;
        }
        tag_total += PyBytes_GET_SIZE(data);
    }
    /* bag-info.txt and its Payload-Oxum; then whether the names and bag-info.txt
       are plain (quick.py checks them itself when they are not). */
    int plain = 0;
    if (result == OK) {
        PyObject *info = PyUnicode_FromString("bag-info.txt");
        int present = info ? PySet_Contains(top_set, info) : -1;
        PyObject *data = present > 0 ? tag_bytes(&tags, info) : NULL;
        if (present > 0 && data == NULL)
            result = PyErr_Occurred() ? FAILED : PLAIN_NOT;
        else if (present < 0)
            result = FAILED;
        Py_XDECREF(info);
        if (result == OK)
            plain = plain_names(w.payload, tag_paths, system);
        if (plain < 0)
            result = FAILED;
        else if (plain && data != NULL)
            plain = plain_info(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data),
                               (unsigned long long)total,
                               (unsigned long long)PyList_GET_SIZE(w.payload));
    }
    if (result == OK) {
        PyObject *payload_algs = PyDict_Keys(payload_m), *tag_algs = PyDict_Keys(tag_m);
        if (payload_algs && tag_algs)
            out = Py_BuildValue("(sOOOOOOOOnO)", version, top, w.payload, sizes, w.dirs, cache,
                                payload_algs, tag_algs, tag_paths, tag_total,
                                plain ? Py_True : Py_False);
        Py_XDECREF(payload_algs);
        Py_XDECREF(tag_algs);
        if (out == NULL)
            result = FAILED;
    }
end:
    close(dir_fd);
    Py_XDECREF(top);
    Py_XDECREF(top_set);
    Py_XDECREF(payload_set);
    Py_XDECREF(cache);
    Py_XDECREF(payload_m);
    Py_XDECREF(tag_m);
    Py_XDECREF(sizes);
    Py_XDECREF(tag_paths);
    Py_XDECREF(w.payload);
    Py_XDECREF(w.dirs);
    if (result == FAILED) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError))
            return NULL;
        PyErr_Clear(); /* anything else unexpected: the general checker decides */
        Py_RETURN_NONE;
    }
    if (result == PLAIN_NOT) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return out;
}

static PyMethodDef methods[] = {
    {"check", check, METH_VARARGS,
     "check(path, constructors, max_entries, max_depth, longest, max_line, max_files, "
     "tag_limit, manifest_limit, info_limit, file_limit, total_limit, system_names) "
     "-> tuple or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "preserve._quickbag",
    "The verifier's quick path in one call (see preserve/verify/quick.py).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

/* The calling convention of check() (its arguments and what it returns): quick.py
 * uses this module only when it knows the same number, so an extension built from
 * older sources (an editable install not rebuilt after an update) is left unused
 * rather than called wrongly. */
#define API_VERSION 2

PyMODINIT_FUNC
PyInit__quickbag(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "API", API_VERSION) != 0)
        Py_CLEAR(m);
    return m;
}
