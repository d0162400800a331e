// tapudp - the PW path's shape with nothing of a fabric in it: one TAP joined to one UDP socket,
// frame per datagram, no header, no labels, no offloads. Two of them (one per side, each with its
// own TAP in its own namespace) make a point-to-point wire over a loopback "underlay", as two PEs
// do: every frame costs two processes woken per way and a datagram between them. `scenario tap`
// compiles it (gcc) and runs it as path `tapudp` beside the PW path, for its RTT. Modelled on the
// peers' tapfwd.c (poll, then read/write until EAGAIN, up to 64 frames a turn): 3-4 system calls
// a frame, the fewest such a program can make without batching.
//
// usage: tapudp [-t max_seconds] NETNS IF LOCAL_IP LOCAL_PORT REMOTE_IP REMOTE_PORT
//   NETNS  path of the namespace the TAP is made in (e.g. /var/run/netns/ns-a), or "-" for ours.
//   IF     the TAP's name (not persistent: it goes when tapudp exits). The socket stays in ours.
//   -t N   exit after N seconds (default 600): every run is bounded.
// Prints "ready" once the TAP and the socket exist; on exit prints its counters on stderr.
// A failed write or send (a TAP still down, nobody bound yet) is counted and the frame dropped.
// Build: gcc -O2 -Wall -o tapudp tapudp.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 65536
#define DRAIN 64

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

struct counters { uint64_t frames, drops; };

static int open_tap_in(const char *nspath, const char *ifname) {
    int self = -1;
    if (strcmp(nspath, "-") != 0) {
        self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
        if (self < 0 || nsfd < 0) { perror(nspath); exit(2); }
        if (setns(nsfd, CLONE_NEWNET) < 0) { perror("setns"); exit(2); }
        close(nsfd);
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) { perror("/dev/net/tun"); exit(2); }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(2); }
    if (self >= 0) {
        if (setns(self, CLONE_NEWNET) < 0) { perror("setns back"); exit(2); }
        close(self);
    }
    return fd;
}

static struct sockaddr_in address(const char *ip, const char *port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", ip); exit(2); }
    return a;
}

// Moves up to DRAIN frames from `in` to `out`; -1 on a fatal read error.
static int pump(int in, int out, const struct sockaddr_in *to, unsigned char *buf, struct counters *c) {
    for (int n = 0; n < DRAIN; n++) {
        ssize_t r = read(in, buf, BUFSZ);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED) return 0;
            perror("read");
            return -1;
        }
        ssize_t w = to ? sendto(out, buf, (size_t)r, 0, (const struct sockaddr *)to, sizeof *to) : write(out, buf, (size_t)r);
        if (w != r) c->drops++;
        else c->frames++;
    }
    return 0;
}

int main(int argc, char **argv) {
    int max_secs = 600, opt;
    while ((opt = getopt(argc, argv, "t:")) != -1) {
        if (opt == 't') max_secs = atoi(optarg);
        else goto usage;
    }
    if (argc - optind != 6) goto usage;

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    alarm(max_secs > 0 ? (unsigned)max_secs : 600);

    int tap = open_tap_in(argv[optind], argv[optind + 1]);
    struct sockaddr_in local = address(argv[optind + 2], argv[optind + 3]);
    struct sockaddr_in remote = address(argv[optind + 4], argv[optind + 5]);
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (udp < 0 || bind(udp, (struct sockaddr *)&local, sizeof local) < 0) { perror("udp socket"); return 2; }
    printf("ready\n");
    fflush(stdout);

    static unsigned char buf[BUFSZ];
    struct counters out = {0}, in = {0};
    struct pollfd p[2] = {{.fd = tap, .events = POLLIN}, {.fd = udp, .events = POLLIN}};
    while (!stop) {
        int r = poll(p, 2, 200);
        if (r < 0) { if (errno == EINTR) continue; perror("poll"); break; }
        if ((p[0].revents & POLLIN) && pump(tap, udp, &remote, buf, &out) < 0) break;
        if ((p[1].revents & POLLIN) && pump(udp, tap, NULL, buf, &in) < 0) break;
        if ((p[0].revents | p[1].revents) & (POLLERR | POLLHUP | POLLNVAL)) { fprintf(stderr, "tap or socket error\n"); break; }
    }

    fprintf(stderr, "tapudp out_frames=%llu out_drops=%llu in_frames=%llu in_drops=%llu\n",
            (unsigned long long)out.frames, (unsigned long long)out.drops,
            (unsigned long long)in.frames, (unsigned long long)in.drops);
    close(udp);
    close(tap);
    return 0;
usage:
    fprintf(stderr, "usage: %s [-t max_seconds] NETNS IF LOCAL_IP LOCAL_PORT REMOTE_IP REMOTE_PORT\n", argv[0]);
    return 2;
}
