/* A UDP echo responder for the port-publishing tests: Debian's busybox has no UDP server applet.
   Usage: udp-echo PORT. Answers each datagram with "echo:" + the datagram. Built static by UdpImage.cs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: udp-echo PORT\n"); return 2; }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = INADDR_ANY };
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("udp-echo"); return 1; }
    char buf[2048];
    memcpy(buf, "echo:", 5);
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(s, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&peer, &len);
        if (n >= 0) sendto(s, buf, n + 5, 0, (struct sockaddr *)&peer, len);
    }
}
