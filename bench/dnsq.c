/* dnsq: name resolution latency, for bench/dns.sh. Sends sequential DNS A queries for NAME over UDP to
 * SERVER:PORT (IPv4), one at a time, and prints the round trip in microseconds: "mean p50 p99 answers".
 *
 *   dnsq [-r] SERVER PORT NAME [COUNT [WARMUP]]     (defaults 1000 and 50)
 *
 * -r prints every timed round trip instead, one a line (bench/dns.sh pools several runs).
 *
 * Each query has its own id; an answer counts only if it is a response to that id with RCODE 0 and at least one
 * answer record, so a server that answers NXDOMAIN fast cannot pass for a fast resolver. Timed with
 * CLOCK_MONOTONIC from just before send() to just after the matching recv(). A query without its answer within 2 s
 * (UDP may drop) is a failure: exit status 1 with a line on stderr.
 * Built static (gcc -O2 -static) so the same file runs in a busybox container and on the host. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The query for NAME (dotted, no trailing dot needed), id 0; returns its length or -1 for a bad name. */
static int build_query(unsigned char *q, size_t cap, const char *name) {
    size_t n = 12;
    memset(q, 0, 12);
    q[2] = 0x01; /* RD: a recursive query, as a stub resolver sends */
    q[5] = 1;    /* QDCOUNT */
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || len > 63 || n + len + 1 + 5 > cap) return -1;
        q[n++] = (unsigned char)len;
        memcpy(q + n, p, len);
        n += len;
        p += len;
        if (*p == '.') p++;
    }
    q[n++] = 0;
    q[n++] = 0; q[n++] = 1; /* QTYPE A */
    q[n++] = 0; q[n++] = 1; /* QCLASS IN */
    return (int)n;
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* One query with id ID; returns the round trip in microseconds, or -1 with a message on stderr. */
static double query(int fd, unsigned char *q, int qlen, uint16_t id) {
    unsigned char r[1500];
    q[0] = id >> 8;
    q[1] = id & 0xff;
    double t0 = now_us();
    if (send(fd, q, qlen, 0) != qlen) { perror("dnsq: send"); return -1; }
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int remaining = 2000 - (int)((now_us() - t0) / 1000);
        if (remaining <= 0 || poll(&pfd, 1, remaining) == 0) { fprintf(stderr, "dnsq: no answer to query %u within 2 s\n", id); return -1; }
        ssize_t n = recv(fd, r, sizeof r, 0);
        double t1 = now_us();
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("dnsq: recv"); /* ECONNREFUSED: nothing listens there */
            return -1;
        }
        if (n < 12 || r[0] != q[0] || r[1] != q[1] || !(r[2] & 0x80)) continue; /* a late answer to an earlier query */
        int rcode = r[3] & 0x0f, ancount = r[6] << 8 | r[7];
        if (rcode != 0 || ancount == 0) { fprintf(stderr, "dnsq: rcode %d, %d answers\n", rcode, ancount); return -1; }
        return t1 - t0;
    }
}

int main(int argc, char **argv) {
    int raw = argc > 1 && strcmp(argv[1], "-r") == 0;
    argc -= raw;
    argv += raw;
    if (argc < 4) { fprintf(stderr, "usage: dnsq [-r] SERVER PORT NAME [COUNT [WARMUP]]\n"); return 2; }
    int count = argc > 4 ? atoi(argv[4]) : 1000, warmup = argc > 5 ? atoi(argv[5]) : 50;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || count < 1 || warmup < 0) { fprintf(stderr, "dnsq: bad arguments\n"); return 2; }
    unsigned char q[512];
    int qlen = build_query(q, sizeof q, argv[3]);
    if (qlen < 0) { fprintf(stderr, "dnsq: bad name %s\n", argv[3]); return 2; }
    /* connect(): the kernel then drops datagrams from any other source, and reports ICMP errors to recv. */
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("dnsq: socket"); return 1; }
    double *t = malloc(sizeof *t * (size_t)count);
    if (!t) return 1;
    uint16_t id = (uint16_t)(getpid() * 7919u);
    for (int i = 0; i < warmup; i++)
        if (query(fd, q, qlen, id++) < 0) return 1;
    double sum = 0;
    for (int i = 0; i < count; i++) {
        if ((t[i] = query(fd, q, qlen, id++)) < 0) return 1;
        sum += t[i];
    }
    if (raw) {
        for (int i = 0; i < count; i++) printf("%.1f\n", t[i]);
        return 0;
    }
    qsort(t, (size_t)count, sizeof *t, cmp_double);
    /* Nearest rank: the smallest value with at least p% of the samples at or below it. */
    int p50 = (count * 50 + 99) / 100 - 1, p99 = (count * 99 + 99) / 100 - 1;
    printf("%.1f %.1f %.1f %d\n", sum / count, t[p50], t[p99], count);
    return 0;
}
