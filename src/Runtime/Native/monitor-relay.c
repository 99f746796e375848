/*
 * The monitor of a detached container while its program runs (see MonitorRelay.cs for the whole protocol).
 *
 * Why C: this role lives as long as the container, once per container, and its job is tiny (copy two pipes into
 * a log file, wait for one child). Started as .NET, the process would first start the runtime, which in this
 * 7.8 MB binary maps about 6 MB (type data of every assembly, runtime code) before doing anything; here it is
 * about 2 MB, nearly all of it libc shared with every process. The same reasoning made runc, a Go program, do
 * its pre-runtime work in C (nsexec). It is linked into the minidocker binary itself, whose C main() dispatches
 * this one verb before the .NET runtime is initialised (NativeAOT's CustomNativeMain), so there is still one
 * binary.
 *
 * argv: minidocker monitor-relay PID LOG OUTFD ERRFD -- PATH ARGV...
 *   Appends OUTFD ("stdout") and ERRFD ("stderr", -1 for a terminal) to LOG as Docker json-file lines until
 *   both reach end of file, reaps PID, then execv(PATH, ARGV... "--resume" "PID:STATUS"), STATUS being the exit
 *   code, or 128+N for signal N.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 16384 /* longer lines become several entries, as with Docker */

struct stream {
    int fd;
    const char *name;
    size_t count;
    unsigned char pending[MAX_LINE];
};

/* Worst case: every byte escaped as \u00XX (6 bytes), plus the fixed parts. */
static char entry[6 * MAX_LINE + 128];

static int parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < -1 || v > 0x7fffffff)
        return -1;
    *out = (int)v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at most U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        if (s[0] == 0xE0) lo = 0xA0;
        if (s[0] == 0xED) hi = 0x9F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        if (s[0] == 0xF0) lo = 0x90;
        if (s[0] == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* {"log":"TEXT","stream":"NAME","time":"2026-11-30T03:14:35.1234567Z"}\n, TEXT escaped as JSON; bytes that are
 * not UTF-8 become U+FFFD, so that readers (System.Text.Json in `logs`) always get valid text. */
static size_t format_entry(const char *name, const unsigned char *text, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    o += (size_t)sprintf(entry, "{\"log\":\"");
    for (size_t i = 0; i < n;) {
        unsigned char c = text[i];
        if (c >= 0x80) {
            size_t len = utf8_sequence(text + i, n - i);
            if (len == 0) {
                memcpy(entry + o, "\xEF\xBF\xBD", 3);
                o += 3;
                i++;
            } else {
                memcpy(entry + o, text + i, len);
                o += len;
                i += len;
            }
            continue;
        }
        switch (c) {
        case '"': entry[o++] = '\\'; entry[o++] = '"'; break;
        case '\\': entry[o++] = '\\'; entry[o++] = '\\'; break;
        case '\n': entry[o++] = '\\'; entry[o++] = 'n'; break;
        case '\r': entry[o++] = '\\'; entry[o++] = 'r'; break;
        case '\t': entry[o++] = '\\'; entry[o++] = 't'; break;
        default:
            if (c < 0x20) {
                memcpy(entry + o, "\\u00", 4);
                entry[o + 4] = hex[c >> 4];
                entry[o + 5] = hex[c & 0xf];
                o += 6;
            } else {
                entry[o++] = (char)c;
            }
        }
        i++;
    }
    struct timespec now;
    struct tm utc;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    o += (size_t)sprintf(entry + o, "\",\"stream\":\"%s\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%07ldZ\"}\n", name,
                         utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                         now.tv_nsec / 100);
    return o;
}

static void flush_line(struct stream *s, int log)
{
    if (s->count == 0)
        return;
    size_t length = format_entry(s->name, s->pending, s->count);
    s->count = 0;
    /* O_APPEND and one write per entry: a reader never sees two entries interleaved. A failed write (disk full)
     * loses the entry; the container keeps running. */
    for (size_t done = 0; log >= 0 && done < length;) {
        ssize_t w = write(log, entry + done, length - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
}

static void take(struct stream *s, const unsigned char *data, size_t n, int log)
{
    while (n > 0) {
        const unsigned char *newline = memchr(data, '\n', n);
        size_t chunk = newline ? (size_t)(newline - data) + 1 : n;
        if (chunk > MAX_LINE - s->count)
            chunk = MAX_LINE - s->count;
        memcpy(s->pending + s->count, data, chunk);
        s->count += chunk;
        data += chunk;
        n -= chunk;
        if (s->count == MAX_LINE || s->pending[s->count - 1] == '\n')
            flush_line(s, log);
    }
}

/* Until every writer is gone (all of the container's processes: PID 1's death ends its pid namespace), or a pty
 * master reports EIO because its slave side is closed. */
static void pump(int log, struct stream *streams, int count)
{
    static unsigned char buffer[16384];
    struct pollfd fds[2];
    while (count > 0) {
        for (int i = 0; i < count; i++)
            fds[i] = (struct pollfd){ .fd = streams[i].fd, .events = POLLIN };
        if (poll(fds, (nfds_t)count, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int i = count - 1; i >= 0; i--) {
            if (fds[i].revents == 0)
                continue;
            ssize_t n = read(streams[i].fd, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                flush_line(&streams[i], log);
                close(streams[i].fd);
                streams[i] = streams[--count];
                continue;
            }
            take(&streams[i], buffer, (size_t)n, log);
        }
    }
}

static int reap(int pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return 125; /* not our child: nothing truthful to report */
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int minidocker_monitor_relay(int argc, char **argv)
{
    int pid, out_fd, err_fd;
    if (argc < 9 || strcmp(argv[6], "--") != 0 || parse_int(argv[2], &pid) != 0 || pid <= 0 ||
        parse_int(argv[4], &out_fd) != 0 || out_fd < 0 || parse_int(argv[5], &err_fd) != 0) {
        fprintf(stderr, "minidocker: monitor-relay is internal: PID LOG OUTFD ERRFD -- PATH ARGV...\n");
        return 125;
    }
    static struct stream streams[2];
    int count = 0;
    streams[count++] = (struct stream){ .fd = out_fd, .name = "stdout" };
    if (err_fd >= 0)
        streams[count++] = (struct stream){ .fd = err_fd, .name = "stderr" };

    /* Without its log the container still runs and is still reaped: output is drained and dropped. */
    int log = open(argv[3], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    pump(log, streams, count);
    if (log >= 0)
        close(log);
    int code = reap(pid);

    char status[32];
    snprintf(status, sizeof status, "%d:%d", pid, code);
    int resume_argc = argc - 8;
    char **resume_argv = calloc((size_t)resume_argc + 3, sizeof(char *));
    if (resume_argv != NULL) {
        memcpy(resume_argv, argv + 8, (size_t)resume_argc * sizeof(char *));
        resume_argv[resume_argc] = "--resume";
        resume_argv[resume_argc + 1] = status;
        execv(argv[7], resume_argv);
    }
    /* Not coming back: nobody undoes the network or records the exit. owner.lock is released as this process
     * ends, which is what the recovery of `ps`, `rm` and `system prune` looks for. */
    fprintf(stderr, "minidocker: monitor-relay: cannot resume the monitor %s: %s\n", argv[7], strerror(errno));
    return 125;
}
