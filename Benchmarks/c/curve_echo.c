/* The wire's ceiling for a request/reply service, for `make bench-btmsg` and `make bench-bttask`:
 * a CURVE ROUTER that echoes every message and does nothing else (a process of its own, one
 * libzmq I/O thread), and CURVE DEALER clients in the shapes the benchmarks use: CLIENTS
 * connections, each keeping DEPTH requests in flight, COUNT requests in all, one frame each.
 * Usage: curve_echo CLIENTS DEPTH COUNT SIZE
 * Prints one JSON object: msgs_per_s, and the echo server's CPU microseconds per message. */
#include <zmq.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char server_public[41], server_secret[41];
static char endpoint[256];
static int clients, depth, size;
static long count;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check(int rc, const char *what) {
    if (rc < 0) { fprintf(stderr, "curve_echo: %s: %s\n", what, zmq_strerror(zmq_errno())); exit(1); }
}

static void serve(int ready_fd) {
    void *context = zmq_ctx_new();
    void *router = zmq_socket(context, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, server_secret, 40);
    zmq_setsockopt(router, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(router, ZMQ_RCVHWM, &zero, sizeof zero);
    check(zmq_bind(router, "tcp://127.0.0.1:*"), "bind");
    size_t length = sizeof endpoint;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &length);
    if (write(ready_fd, endpoint, sizeof endpoint) != (ssize_t)sizeof endpoint) exit(1);
    close(ready_fd);
    char identity[256], body[65536];
    for (;;) {
        int n = zmq_recv(router, identity, sizeof identity, 0);
        if (n < 0) continue;
        int m = zmq_recv(router, body, sizeof body, 0);
        if (m < 0) continue;
        zmq_send(router, identity, (size_t)n, ZMQ_SNDMORE);
        zmq_send(router, body, (size_t)(m > (int)sizeof body ? (int)sizeof body : m), 0);
    }
}

static void *client(void *arg) {
    void *context = arg;
    void *dealer = zmq_socket(context, ZMQ_DEALER);
    char public[41], secret[41];
    zmq_curve_keypair(public, secret);
    int zero = 0;
    zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY, server_public, 40);
    zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, public, 40);
    zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, secret, 40);
    zmq_setsockopt(dealer, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(dealer, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    check(zmq_connect(dealer, endpoint), "connect");
    long mine = count / clients, sent = 0, received = 0;
    char *payload = calloc(1, (size_t)size), reply[65536];
    while (sent < mine && sent < depth) { check(zmq_send(dealer, payload, (size_t)size, 0), "send"); sent++; }
    while (received < mine) {
        check(zmq_recv(dealer, reply, sizeof reply, 0), "recv");
        received++;
        if (sent < mine) { check(zmq_send(dealer, payload, (size_t)size, 0), "send"); sent++; }
    }
    free(payload);
    zmq_close(dealer);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: curve_echo CLIENTS DEPTH COUNT SIZE\n"); return 2; }
    clients = atoi(argv[1]); depth = atoi(argv[2]); count = atol(argv[3]); size = atoi(argv[4]);
    if (clients < 1 || depth < 1 || count < clients || size < 1 || size > 65536) { fprintf(stderr, "curve_echo: bad arguments\n"); return 2; }
    zmq_curve_keypair(server_public, server_secret);
    int ready[2];
    if (pipe(ready) != 0) return 1;
    pid_t server = fork();
    if (server == 0) { close(ready[0]); serve(ready[1]); _exit(0); }
    close(ready[1]);
    if (read(ready[0], endpoint, sizeof endpoint) != (ssize_t)sizeof endpoint) return 1;
    close(ready[0]);

    // Connect and warm up every client first (the handshakes are not part of the figure).
    void *context = zmq_ctx_new();
    pthread_t *threads = calloc((size_t)clients, sizeof *threads);
    long total = count;
    count = clients;   // one request per client to warm up
    for (int i = 0; i < clients; i++) pthread_create(&threads[i], NULL, client, context);
    for (int i = 0; i < clients; i++) pthread_join(threads[i], NULL);
    count = total;

    char stat[64];
    snprintf(stat, sizeof stat, "/proc/%d/stat", (int)server);
    unsigned long long before = 0, after = 0;
    FILE *f;
    unsigned long utime, stime;
    if ((f = fopen(stat, "r"))) { if (fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2) before = utime + stime; fclose(f); }
    double start = now_s();
    for (int i = 0; i < clients; i++) pthread_create(&threads[i], NULL, client, context);
    for (int i = 0; i < clients; i++) pthread_join(threads[i], NULL);
    double seconds = now_s() - start;
    if ((f = fopen(stat, "r"))) { if (fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2) after = utime + stime; fclose(f); }
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);
    long done = (count / clients) * clients;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    printf("{\"bench\": \"curve-echo\", \"clients\": %d, \"depth\": %d, \"count\": %ld, \"size\": %d, \"msgs_per_s\": %.0f, \"server_cpu_us\": %.2f}\n",
           clients, depth, done, size, done / seconds, (after - before) / ticks * 1e6 / done);
    return 0;
}
