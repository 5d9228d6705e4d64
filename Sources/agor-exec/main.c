// agor-exec: the AgentRunner's exec helper. Swift's spawn APIs cannot configure a child on Linux,
// so the runner starts this small program, which configures itself and then execs the agent:
//
//   agor-exec [options] -- PROGRAM [ARGS...]
//     --report-fd FD          write one JSON line saying which layer held, then close FD
//     --rlimit-cpu SECONDS    --rlimit-as BYTES    --rlimit-nofile N    --rlimit-nproc N
//     --ro PATH               Landlock: read (files and directories) beneath PATH
//     --rx PATH               Landlock: read and execute beneath PATH
//     --rw PATH               Landlock: read, write, create and remove beneath PATH
//     --connect PORT          Landlock: TCP connect allowed to PORT (with --deny-tcp)
//     --deny-tcp              Landlock: TCP connect refused except to the --connect ports
//     --require-landlock      refuse to run the agent when Landlock cannot be enforced
//     --chdir DIR             the agent's working directory
//     --cgroup DIR            join the cgroup DIR (write our pid to DIR/cgroup.procs); repeatable
//     --require-cgroups       refuse to run the agent when a cgroup cannot be joined
//     --user UID:GID          run the agent as this user (no supplementary groups, no capabilities)
//     --report-open           the outer half of the strict tier: report what held so far, leave
//                             the report open (inherited) for the helper that bubblewrap starts
//     --forward PORT:PATH     (strict tier) relay TCP connections to 127.0.0.1:PORT, in the agent's
//                             network namespace, to the unix socket PATH (the runner's model proxy)
//     --report-continue       the inner half: continue that report; the process group is the
//                             outer half's (kept), and the layer "strict" is reported held
//
// Always: a new process group (the runner kills the whole group), the parent-death signal (SIGKILL
// when the spawning thread ends), no_new_privs, no core dumps. Each layer is reported as held or
// not available, never skipped silently. Exit 126: a required layer could not be set; 127: exec
// failed. Landlock's constants are defined here, so the kernel decides what it supports, not the
// headers this was compiled with.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

struct ll_ruleset_attr { uint64_t handled_access_fs, handled_access_net, scoped; };
struct ll_path_beneath { uint64_t allowed_access; int32_t parent_fd; } __attribute__((packed));
struct ll_net_port { uint64_t allowed_access; uint64_t port; };

enum {
    LL_RULE_PATH_BENEATH = 1, LL_RULE_NET_PORT = 2,
    LL_CREATE_RULESET_VERSION = 1,
};
#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_REFER (1ULL << 13)
#define FS_TRUNCATE (1ULL << 14)
#define FS_IOCTL_DEV (1ULL << 15)
#define NET_CONNECT_TCP (1ULL << 1)

#define MAX_RULES 256
struct rule { char kind; const char *path; };

static char report[4096];
static size_t report_len;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(report + report_len, sizeof report - report_len, fmt, args);
    va_end(args);
    if (n > 0 && (size_t)n < sizeof report - report_len) report_len += (size_t)n;
}

static void send_report(int fd) {
    if (fd < 0) return;
    note("}\n");
    ssize_t off = 0;
    while ((size_t)off < report_len) {
        ssize_t n = write(fd, report + off, report_len - (size_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += n;
    }
    close(fd);
}

static int fail(int fd, int status, const char *what) {
    note(",\"error\":\"%s: %s\"", what, strerror(errno));
    send_report(fd);
    fprintf(stderr, "agor-exec: %s: %s\n", what, strerror(errno));
    return status;
}

static uint64_t fs_rights(int abi) {
    uint64_t all = (1ULL << 13) - 1;           // ABI 1: execute .. make_sym
    if (abi >= 2) all |= FS_REFER;
    if (abi >= 3) all |= FS_TRUNCATE;
    if (abi >= 5) all |= FS_IOCTL_DEV;
    return all;
}

static int set_rlimit(int resource, const char *value, const char *name) {
    char *end = NULL;
    unsigned long long n = strtoull(value, &end, 10);
    if (!end || *end) { errno = EINVAL; return -1; }
    struct rlimit limit = { (rlim_t)n, (rlim_t)n };
    if (setrlimit(resource, &limit) != 0) return -1;
    note(",\"rlimit_%s\":%llu", name, n);
    return 0;
}

// Moves this process into the cgroup at `dir` (its caps then bind the agent and its children).
static int join_cgroup(const char *dir) {
    char path[4096], pid[32];
    if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path) { errno = ENAMETOOLONG; return -1; }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    ssize_t written = write(fd, pid, (size_t)n);
    int saved = errno;
    close(fd);
    errno = saved;
    return written == n ? 0 : -1;
}

// No core dumps, and the limits given (CPU seconds, address space, open files, processes); the
// name of the one that could not be set, or NULL.
static const char *set_rlimits(const char *limits[4]) {
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) return "RLIMIT_CORE";
    if (limits[0] && set_rlimit(RLIMIT_CPU, limits[0], "cpu") != 0) return "RLIMIT_CPU";
    if (limits[1] && set_rlimit(RLIMIT_AS, limits[1], "as") != 0) return "RLIMIT_AS";
    if (limits[2] && set_rlimit(RLIMIT_NOFILE, limits[2], "nofile") != 0) return "RLIMIT_NOFILE";
    if (limits[3] && set_rlimit(RLIMIT_NPROC, limits[3], "nproc") != 0) return "RLIMIT_NPROC";
    return NULL;
}

// Copies bytes both ways between two sockets until both directions have ended.
static void relay(int a, int b) {
    char buffer[65536];
    int open_a = 1, open_b = 1;
    while (open_a || open_b) {
        struct pollfd fds[2] = {{a, open_a ? POLLIN : 0, 0}, {b, open_b ? POLLIN : 0, 0}};
        if (poll(fds, 2, -1) < 0) { if (errno == EINTR) continue; return; }
        for (int k = 0; k < 2; k++) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int from = k ? b : a, to = k ? a : b;
            ssize_t n = read(from, buffer, sizeof buffer);
            if (n <= 0) {
                shutdown(to, SHUT_WR);
                if (k) open_b = 0; else open_a = 0;
                continue;
            }
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(to, buffer + off, (size_t)(n - off));
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) return;
                off += w;
            }
        }
    }
}

// A child that listens on 127.0.0.1:PORT and relays each connection to the unix socket PATH; it
// dies with the agent (its parent after the exec).
static int start_forwarder(const char *spec) {
    char *end = NULL;
    unsigned long port = strtoul(spec, &end, 10);
    if (!end || *end != ':' || port == 0 || port > 65535) { errno = EINVAL; return -1; }
    const char *path = end + 1;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) return -1;
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 64) != 0) { close(listener); return -1; }
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) { close(listener); return -1; }
    if (child > 0) { close(listener); return 0; }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    signal(SIGCHLD, SIG_IGN);
    for (int fd = 0; fd < 3; fd++) { int null = open("/dev/null", O_RDWR); if (null >= 0 && null != fd) { dup2(null, fd); close(null); } }
    // Nothing of the agent's stays open here: the report pipe must end when the agent starts.
    for (int fd = 3; fd < 1024; fd++) if (fd != listener) close(fd);
    for (;;) {
        int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0) { if (errno == EINTR) continue; _exit(1); }
        if (fork() == 0) {
            close(listener);
            int upstream = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_un unix_address = {0};
            unix_address.sun_family = AF_UNIX;
            strncpy(unix_address.sun_path, path, sizeof unix_address.sun_path - 1);
            if (upstream < 0 || connect(upstream, (struct sockaddr *)&unix_address, sizeof unix_address) != 0) _exit(1);
            relay(client, upstream);
            _exit(0);
        }
        close(client);
    }
}

int main(int argc, char **argv) {
    int report_fd = -1, require_landlock = 0, deny_tcp = 0, require_cgroups = 0, report_open = 0, report_continue = 0;
    const char *cgroups[4];
    int ncgroups = 0;
    const char *user = NULL;
    const char *forward = NULL;
    struct rule rules[MAX_RULES];
    int nrules = 0;
    uint64_t ports[64];
    int nports = 0;
    const char *limits[4] = {0};
    const char *chdir_to = NULL;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) { i++; break; }
        if (!strcmp(a, "--require-landlock")) { require_landlock = 1; continue; }
        if (!strcmp(a, "--deny-tcp")) { deny_tcp = 1; continue; }
        if (!strcmp(a, "--require-cgroups")) { require_cgroups = 1; continue; }
        if (!strcmp(a, "--report-open")) { report_open = 1; continue; }
        if (!strcmp(a, "--report-continue")) { report_continue = 1; continue; }
        if (!v) { fprintf(stderr, "agor-exec: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--report-fd")) report_fd = atoi(v);
        else if (!strcmp(a, "--chdir")) chdir_to = v;
        else if (!strcmp(a, "--cgroup") && ncgroups < 4) cgroups[ncgroups++] = v;
        else if (!strcmp(a, "--user")) user = v;
        else if (!strcmp(a, "--forward")) forward = v;
        else if (!strcmp(a, "--rlimit-cpu")) limits[0] = v;
        else if (!strcmp(a, "--rlimit-as")) limits[1] = v;
        else if (!strcmp(a, "--rlimit-nofile")) limits[2] = v;
        else if (!strcmp(a, "--rlimit-nproc")) limits[3] = v;
        else if ((!strcmp(a, "--ro") || !strcmp(a, "--rx") || !strcmp(a, "--rw")) && nrules < MAX_RULES) {
            rules[nrules].kind = a[3];
            rules[nrules].path = v;
            nrules++;
        } else if (!strcmp(a, "--connect") && nports < 64) ports[nports++] = strtoull(v, NULL, 10);
        else { fprintf(stderr, "agor-exec: unknown option %s\n", a); return 2; }
        i++;
    }
    if (i >= argc) { fprintf(stderr, "usage: agor-exec [options] -- PROGRAM [ARGS...]\n"); return 2; }
    if (report_fd >= 0) fcntl(report_fd, F_SETFD, report_open ? 0 : FD_CLOEXEC);
    if (!report_continue) note("{\"pid\":%d", (int)getpid());
    if (chdir_to && chdir(chdir_to) != 0) return fail(report_fd, 126, "chdir");

    // Own process group, and die with the spawning thread.
    pid_t parent = getppid();
    if (!report_continue && setpgid(0, 0) != 0) return fail(report_fd, 126, "setpgid");
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return fail(report_fd, 126, "PR_SET_PDEATHSIG");
    if (getppid() != parent) return 126;       // the runner is already gone
    if (!report_continue) note(",\"process_group\":\"held\",\"parent_death_signal\":\"held\"");
    // Caps by cgroups, joined while still privileged to write cgroup.procs.
    if (ncgroups > 0) {
        int joined = 1;
        for (int c = 0; c < ncgroups; c++) {
            if (join_cgroup(cgroups[c]) != 0) {
                if (require_cgroups) return fail(report_fd, 126, "joining the session's cgroup");
                note(",\"cgroups_reason\":\"%s\"", strerror(errno));
                joined = 0;
                break;
            }
        }
        note(",\"cgroups\":\"%s\"", joined ? "held" : "unavailable");
    }
    // An unprivileged user of its own: setuid from root drops every capability.
    if (user) {
        char *end = NULL;
        unsigned long uid = strtoul(user, &end, 10), gid = end && *end == ':' ? strtoul(end + 1, NULL, 10) : uid;
        if (setgroups(0, NULL) != 0) return fail(report_fd, 126, "setgroups");
        if (setgid((gid_t)gid) != 0) return fail(report_fd, 126, "setgid");
        if (setuid((uid_t)uid) != 0) return fail(report_fd, 126, "setuid");
        if (setuid(0) == 0) { errno = EPERM; return fail(report_fd, 126, "dropping root"); }
        // A change of credentials clears the parent-death signal: set it again.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return fail(report_fd, 126, "PR_SET_PDEATHSIG");
        if (getppid() != parent) return 126;
        note(",\"user\":\"held\",\"uid\":%lu", uid);
    }
    if (report_open) {
        // The outer half: bubblewrap (not set-user-ID) is next, and the inner half reports the rest.
        const char *failed = set_rlimits(limits);
        if (failed) return fail(report_fd, 126, failed);
        note(",\"rlimits\":\"held\"");
        for (size_t off = 0; report_fd >= 0 && off < report_len;) {
            ssize_t n = write(report_fd, report + off, report_len - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            off += (size_t)n;
        }
        execvp(argv[i], &argv[i]);
        report_len = 0;
        note(",\"strict\":\"unavailable\"");
        return fail(report_fd, 126, "exec bubblewrap");
    }
    if (report_continue) note(",\"strict\":\"held\"");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail(report_fd, 126, "PR_SET_NO_NEW_PRIVS");
    note(",\"no_new_privs\":\"held\"");

    const char *failed = set_rlimits(limits);
    if (failed) return fail(report_fd, 126, failed);
    if (!report_continue) note(",\"rlimits\":\"held\"");   // inside the strict tier the outer half set them

    if (nrules > 0 || deny_tcp) {
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
        if (abi < 1) {
            note(",\"landlock\":\"unavailable\",\"landlock_reason\":\"%s\"", strerror(errno));
            if (require_landlock) { send_report(report_fd); fprintf(stderr, "agor-exec: Landlock is required and not available\n"); return 126; }
        } else {
            struct ll_ruleset_attr attr = { fs_rights((int)abi), 0, 0 };
            size_t attr_size = sizeof(uint64_t);
            int net = deny_tcp && abi >= 4;
            if (net) { attr.handled_access_net = NET_CONNECT_TCP; attr_size = 2 * sizeof(uint64_t); }
            int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
            if (ruleset < 0) return fail(report_fd, 126, "landlock_create_ruleset");
            for (int r = 0; r < nrules; r++) {
                int fd = open(rules[r].path, O_PATH | O_CLOEXEC);
                if (fd < 0) { note(",\"landlock_missing\":\"%s\"", rules[r].path); continue; }
                struct stat st;
                uint64_t want = rules[r].kind == 'w' ? attr.handled_access_fs
                              : rules[r].kind == 'x' ? (FS_EXECUTE | FS_READ_FILE | FS_READ_DIR)
                              : (FS_READ_FILE | FS_READ_DIR);
                if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
                    want &= FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;
                struct ll_path_beneath rule = { want & attr.handled_access_fs, fd };
                if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0) != 0) {
                    close(fd);
                    return fail(report_fd, 126, "landlock_add_rule");
                }
                close(fd);
            }
            for (int p = 0; net && p < nports; p++) {
                struct ll_net_port rule = { NET_CONNECT_TCP, ports[p] };
                if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &rule, 0) != 0)
                    return fail(report_fd, 126, "landlock_add_rule(net)");
            }
            if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) return fail(report_fd, 126, "landlock_restrict_self");
            close(ruleset);
            note(",\"landlock\":\"held\",\"landlock_abi\":%ld,\"landlock_tcp\":\"%s\"", abi,
                 deny_tcp ? (net ? "held" : "unavailable") : "allowed");
            if (deny_tcp && !net && require_landlock) { send_report(report_fd); return 126; }
        }
    } else {
        note(",\"landlock\":\"off\"");
    }
    if (forward) {
        if (start_forwarder(forward) != 0) return fail(report_fd, 126, "starting the proxy forwarder");
        note(",\"proxy\":\"held\"");
    }
    send_report(report_fd);
    execvp(argv[i], &argv[i]);
    fprintf(stderr, "agor-exec: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}
