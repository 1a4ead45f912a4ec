/* Remote names as raw bytes: ferroftp_entries_name_bytes, ferroftp_path_from_bytes,
 * ferroftp_path_to_bytes, and the converted paths passed to the session's functions (blocking
 * and _start). On vsftpd, which stores any bytes, the names are not UTF-8 (Latin-1, and the byte
 * 0xFF, Telnet's IAC); pyftpdlib decodes commands as UTF-8 and replaces other bytes, so no client
 * can reach such names there, and the same steps run with UTF-8 names holding a double quote.
 * Every file is checked on the server's disk under its raw name. Also: a string argument that
 * is not UTF-8 is still refused (FERROFTP_STATUS_INVALID_UTF8), and the conversions' edge cases. */
#define _GNU_SOURCE /* mkstemp */
#include "common.h"

#include <sys/stat.h>
#include <unistd.h>

struct names {
    const char *file;   /* created on disk, listed, read, downloaded, renamed, removed */
    const char *dir;    /* created on disk, entered with CWD (PWD gives it back) */
    const char *upload; /* created with STOR */
};

static const struct names VSFTPD = {"caf\xe9.txt", "d\xe9\xff\"q", "\xffup\xe9"};
static const struct names PYFTPDLIB = {"caf\xc3\xa9.txt", "d\xc3\xa9\xc3\xbf\"q",
                                       "\xc3\xbfup\xc3\xa9"};

/* "<a>/<b>" (malloc'd; raw bytes, no conversion). */
static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *out = (char *)malloc(n);
    if (!out) abort();
    snprintf(out, n, "%s/%s", a, b);
    return out;
}

/* The library's string for the raw path `raw` (free with ferroftp_string_free). */
static char *from_bytes(const char *raw) {
    char *path = NULL;
    CHECK_OK(ferroftp_path_from_bytes((const uint8_t *)raw, strlen(raw), &path));
    CHECK(path != NULL);
    return path;
}

/* Whether the library string `path` stands for exactly the raw bytes `raw`. */
static bool is_bytes(const char *path, const char *raw) {
    ferroftp_bytes *b = NULL;
    CHECK_OK(ferroftp_path_to_bytes(path, &b));
    bool same = b->len == strlen(raw) && memcmp(b->data, raw, b->len) == 0;
    ferroftp_bytes_free(b);
    return same;
}

/* The raw path of `name` in `dir` on the server's disk. */
static char *on_disk(const char *dir, const char *name) {
    char *d = join(T_ROOT, dir[0] == '/' ? dir + 1 : dir);
    char *p = name ? join(d, name) : d;
    if (name) free(d);
    return p;
}

static void conversions(void) {
    /* Every single byte but 0, and UTF-8 of U+F7E9 (a mapped character), round-trip. */
    for (int i = 1; i < 256; i++) {
        char raw[2] = {(char)i, 0};
        char *p = from_bytes(raw);
        CHECK(is_bytes(p, raw));
        ferroftp_string_free(p);
    }
    const char *tricky[] = {"caf\xe9", "\xef\x9f\xa9", "x\xff\xffy", "\xc3\xa9\xe9", "plain"};
    for (size_t i = 0; i < sizeof tricky / sizeof *tricky; i++) {
        char *p = from_bytes(tricky[i]);
        CHECK(is_bytes(p, tricky[i]));
        ferroftp_string_free(p);
    }
    /* Valid UTF-8 is left as it is; Latin-1 é becomes U+F7E9. */
    char *p = from_bytes("caf\xc3\xa9");
    CHECK(strcmp(p, "caf\xc3\xa9") == 0);
    ferroftp_string_free(p);
    p = from_bytes("caf\xe9");
    CHECK(strcmp(p, "caf\xef\x9f\xa9") == 0);
    ferroftp_string_free(p);

    /* Empty; NULL with length 0; bad arguments leave the out-parameter alone. */
    p = NULL;
    CHECK_OK(ferroftp_path_from_bytes(NULL, 0, &p));
    CHECK(p != NULL && p[0] == 0);
    ferroftp_string_free(p);
    char *untouched = (char *)&p;
    char *out = untouched;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT,
             ferroftp_path_from_bytes((const uint8_t *)"a\0b", 3, &out));
    CHECK(out == untouched);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_path_from_bytes(NULL, 3, &out));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT,
             ferroftp_path_from_bytes((const uint8_t *)"a", 1, NULL));
    CHECK(out == untouched);
    ferroftp_bytes *b = (ferroftp_bytes *)untouched;
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_path_to_bytes("caf\xe9", &b));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_path_to_bytes(NULL, &b));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_path_to_bytes("x", NULL));
    CHECK(b == (ferroftp_bytes *)untouched);
    b = NULL;
    CHECK_OK(ferroftp_path_to_bytes("", &b));
    CHECK(b != NULL && b->len == 0);
    ferroftp_bytes_free(b);
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    conversions();
    const struct names *n = strcmp(T_SERVER, "vsftpd") == 0 ? &VSFTPD : &PYFTPDLIB;
    ferroftp_session *s = t_connect();
    char *dir = t_dir(s, "names");

    /* The fixtures, on the server's disk, owned like the directory the server made. */
    struct stat st;
    char *local_dir = on_disk(dir, NULL);
    CHECK(stat(local_dir, &st) == 0);
    const size_t len = 20000;
    uint8_t *content = t_data(len, 11);
    char *local_file = on_disk(dir, n->file);
    t_write_file(local_file, content, len);
    char *local_sub = on_disk(dir, n->dir);
    CHECK(mkdir(local_sub, 0755) == 0);
    CHECK(chown(local_file, st.st_uid, st.st_gid) == 0);
    CHECK(chown(local_sub, st.st_uid, st.st_gid) == 0);

    /* The default stays: a string that is not UTF-8 is refused, whatever it names. */
    char *raw_file = join(dir, n->file);
    if (n == &VSFTPD) {
        uint64_t size = 42;
        CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_size(s, raw_file, &size));
        CHECK(size == 42);
    }

    /* The listing gives each name's bytes; its names and paths are the converted strings. */
    ferroftp_entries *entries = NULL;
    CHECK_OK(ferroftp_session_list(s, dir, &entries));
    size_t count = 0;
    CHECK_OK(ferroftp_entries_count(entries, &count));
    CHECK(count == 2);
    const char *listed_path = NULL;
    bool seen_file = false, seen_dir = false;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *data = NULL;
        size_t n_bytes = 0;
        const char *name = NULL, *path = NULL;
        CHECK_OK(ferroftp_entries_name_bytes(entries, i, &data, &n_bytes));
        CHECK_OK(ferroftp_entries_name(entries, i, &name));
        CHECK_OK(ferroftp_entries_path(entries, i, &path));
        CHECK(data != NULL);
        if (n_bytes == strlen(n->file) && memcmp(data, n->file, n_bytes) == 0) {
            seen_file = true;
            listed_path = path;
            CHECK(is_bytes(name, n->file));
            CHECK(is_bytes(path, raw_file));
            /* Not UTF-8 on vsftpd: the name string differs from the raw bytes. */
            CHECK((strcmp(name, n->file) == 0) == (n == &PYFTPDLIB));
        } else if (n_bytes == strlen(n->dir) && memcmp(data, n->dir, n_bytes) == 0) {
            seen_dir = true;
            CHECK(is_bytes(name, n->dir));
        }
    }
    CHECK(seen_file && seen_dir);
    const uint8_t *data = NULL;
    size_t n_bytes = 7;
    CHECK_ST(FERROFTP_STATUS_OUT_OF_RANGE, ferroftp_entries_name_bytes(entries, 2, &data, &n_bytes));
    CHECK(data == NULL && n_bytes == 7);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_entries_name_bytes(NULL, 0, &data, &n_bytes));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_entries_name_bytes(entries, 0, NULL, &n_bytes));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_entries_name_bytes(entries, 0, &data, NULL));

    /* The raw path, converted, is the listed path and reaches the file. */
    char *file = from_bytes(raw_file);
    CHECK(strcmp(file, listed_path) == 0);
    ferroftp_entries_free(entries);
    uint64_t size = 0;
    CHECK_OK(ferroftp_session_size(s, file, &size));
    CHECK(size == len);
    bool exists = false;
    CHECK_OK(ferroftp_session_exists(s, file, &exists));
    CHECK(exists);
    ferroftp_bytes *b = NULL;
    CHECK_OK(ferroftp_session_read(s, file, &b));
    CHECK(b->len == len && memcmp(b->data, content, len) == 0);
    ferroftp_bytes_free(b);
    char tmp[] = "/tmp/ferroftp-test-names-XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0);
    close(fd);
    uint64_t got = 0;
    CHECK_OK(ferroftp_session_download(s, file, tmp, &got));
    CHECK(got == len && t_file_is(tmp, content, len));
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_size_start(s, file, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    size = 0;
    CHECK_OK(ferroftp_future_take_u64(f, &size));
    CHECK(size == len);
    ferroftp_future_free(f);

    /* STOR under a raw name: exactly those bytes on disk. */
    char *raw_up = join(dir, n->upload);
    char *up = from_bytes(raw_up);
    CHECK_OK(ferroftp_session_upload(s, tmp, up, &got));
    char *local_up = on_disk(dir, n->upload);
    CHECK(t_file_is(local_up, content, len));
    unlink(tmp);

    /* CWD into the raw directory; PWD's string stands for its bytes. */
    char *raw_sub = join(dir, n->dir);
    char *sub = from_bytes(raw_sub);
    CHECK_OK(ferroftp_session_cwd(s, sub));
    char *pwd = NULL;
    CHECK_OK(ferroftp_session_pwd(s, &pwd));
    CHECK(strcmp(pwd, sub) == 0 && is_bytes(pwd, raw_sub));
    ferroftp_string_free(pwd);
    CHECK_OK(ferroftp_session_cwd(s, "/"));

    /* NLST names stand for the raw names. */
    ferroftp_strings *names = NULL;
    CHECK_OK(ferroftp_session_names(s, dir, &names));
    CHECK_OK(ferroftp_strings_count(names, &count));
    CHECK(count == 3);
    int matched = 0;
    for (size_t i = 0; i < count; i++) {
        const char *name = NULL;
        CHECK_OK(ferroftp_strings_get(names, i, &name));
        matched += is_bytes(name, n->file) + is_bytes(name, n->dir) + is_bytes(name, n->upload);
    }
    CHECK(matched == 3);
    ferroftp_strings_free(names);

    /* RNFR/RNTO, DELE, RMD on converted raw paths. */
    char raw_old[512];
    snprintf(raw_old, sizeof raw_old, "%s.old", raw_file);
    char *old = from_bytes(raw_old);
    CHECK_OK(ferroftp_session_rename(s, file, old));
    char *local_old = on_disk(dir, NULL);
    char disk_old[1024];
    snprintf(disk_old, sizeof disk_old, "%s/%s.old", local_old, n->file);
    CHECK(access(disk_old, F_OK) == 0 && access(local_file, F_OK) != 0);
    CHECK_OK(ferroftp_session_remove(s, old));
    CHECK_OK(ferroftp_session_remove(s, up));
    CHECK_OK(ferroftp_session_rmdir(s, sub, false));
    CHECK(access(disk_old, F_OK) != 0 && access(local_up, F_OK) != 0 && access(local_sub, F_OK) != 0);
    CHECK_OK(ferroftp_session_rmdir(s, dir, false));

    ferroftp_string_free(file);
    ferroftp_string_free(up);
    ferroftp_string_free(sub);
    ferroftp_string_free(old);
    free(local_old);
    free(local_up);
    free(raw_up);
    free(raw_sub);
    free(raw_file);
    free(local_sub);
    free(local_file);
    free(local_dir);
    free(content);
    free(dir);
    CHECK_OK(ferroftp_session_close(s));
    ferroftp_session_free(s);
    t_done("test_names");
    return 0;
}
