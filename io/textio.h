/* io/textio.h: the small text files every layer writes: directories made
 * with their parents, whole files read, text written atomically (temp file,
 * fsync, rename: io/atomic.h), text collected in memory first, and a tiny
 * JSON object writer. Every failure is fatal and names the path.
 * defines: textio_strdup, textio_mkdir_p, textio_read, textio_write, TextBuf, textbuf_open,
 *          textbuf_take, textbuf_commit, textio_fail (JSON: io/runinfo.h) */
#ifndef CORDSEG_IO_TEXTIO_H
#define CORDSEG_IO_TEXTIO_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* strdup, fatal when out of memory */
char *textio_strdup(const char *s);
/* mkdir -p dir (mode 0775); fatal "cannot create 'PATH': why" with hint */
void textio_mkdir_p(const char *dir, const char *hint);
/* the whole file, malloc'ed and NUL-terminated; NULL when it cannot be opened */
char *textio_read(const char *path);
/* the whole file for a reader that must have it: fatal (with hint, naming the file) when it cannot be opened,
 * is empty, or holds max bytes or more */
char *textio_read_bounded(const char *path, size_t max, const char *hint);
/* text onto path atomically */
void textio_write(const char *path, const char *text);

/* text collected in memory (open_memstream) */
typedef struct {
  FILE *f;
  char *buf;
  size_t n;
} TextBuf;
FILE *textbuf_open(TextBuf *t);
/* closes the stream; the caller frees the returned text */
char *textbuf_take(TextBuf *t);
/* closes, writes the text atomically onto path, frees */
void textbuf_commit(TextBuf *t, const char *path);

/* the readers' non-fatal mode: the message into err[n] (when err), returns -1 */
int textio_fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
