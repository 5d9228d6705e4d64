/* Raw libzmq baseline for `make bench-bus`: the same patterns as Benchmarks/BusBench, one message
 * per frame, in one process (a sender thread and a receiver on the main thread), over tcp loopback.
 * Usage: rawzmq thr|lat pubsub|dealer SIZE plain|curve COUNT
 * Prints one JSON object. */
#include <zmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char server_public[41], server_secret[41], client_public[41], client_secret[41];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check(int rc, const char *what) {
    if (rc < 0) { fprintf(stderr, "%s: %s\n", what, zmq_strerror(zmq_errno())); exit(1); }
}

static void secure(void *s, int server, int curve) {
    int zero = 0, linger = 0;
    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (!curve) return;
    if (server) {
        int one = 1;
        zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, server_secret, 40);
    } else {
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_public, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, client_public, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, client_secret, 40);
    }
}

struct sender { void *socket; int size; long count; };

static void *send_all(void *arg) {
    struct sender *s = arg;
    char *buf = calloc(1, s->size);
    for (long i = 0; i < s->count; i++) check(zmq_send(s->socket, buf, s->size, 0), "send");
    free(buf);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: rawzmq thr|lat pubsub|dealer SIZE plain|curve COUNT\n"); return 2; }
    int lat = strcmp(argv[1], "lat") == 0, pubsub = strcmp(argv[2], "pubsub") == 0;
    int size = atoi(argv[3]), curve = strcmp(argv[4], "curve") == 0;
    long count = atol(argv[5]);
    zmq_curve_keypair(server_public, server_secret);
    zmq_curve_keypair(client_public, client_secret);
    void *ctx = zmq_ctx_new();
    char endpoint[256]; size_t len = sizeof endpoint;
    char *buf = calloc(1, size + 64);

    /* Forward path: server side binds (PUB or ROUTER), client side connects (SUB or DEALER). */
    void *tx = zmq_socket(ctx, pubsub ? ZMQ_PUB : ZMQ_DEALER);
    void *rx = zmq_socket(ctx, pubsub ? ZMQ_SUB : ZMQ_ROUTER);
    void *bound = pubsub ? tx : rx, *connecting = pubsub ? rx : tx;
    secure(bound, 1, curve);
    secure(connecting, 0, curve);
    if (pubsub) zmq_setsockopt(rx, ZMQ_SUBSCRIBE, "", 0);
    check(zmq_bind(bound, "tcp://127.0.0.1:*"), "bind");
    zmq_getsockopt(bound, ZMQ_LAST_ENDPOINT, endpoint, &len);
    check(zmq_connect(connecting, endpoint), "connect");

    if (pubsub) { /* wait until the subscription is live */
        for (;;) {
            zmq_send(tx, "", 0, 0);
            zmq_pollitem_t item = { rx, 0, ZMQ_POLLIN, 0 };
            if (zmq_poll(&item, 1, 20) > 0) { while (zmq_recv(rx, buf, size, ZMQ_DONTWAIT) >= 0) {} break; }
        }
    } else {
        zmq_send(tx, "", 0, 0);
        zmq_recv(rx, buf, size, 0); zmq_recv(rx, buf, size, 0);
    }

    if (!lat) {
        struct sender s = { tx, size, count };
        pthread_t thread;
        double start = now_s();
        pthread_create(&thread, NULL, send_all, &s);
        for (long i = 0; i < count; i++) {
            if (!pubsub) check(zmq_recv(rx, buf, size + 64, 0), "recv id");
            check(zmq_recv(rx, buf, size + 64, 0), "recv");
        }
        double elapsed = now_s() - start;
        pthread_join(thread, NULL);
        printf("{\"impl\":\"raw\",\"kind\":\"throughput\",\"pattern\":\"%s\",\"size\":%d,\"security\":\"%s\",\"count\":%ld,\"msgs_per_s\":%.0f}\n",
               argv[2], size, argv[4], count, count / elapsed);
    } else {
        /* Round trip: forward on tx->rx, back on a second pair (PUB/SUB) or the same pair (ROUTER replies). */
        void *back_tx = NULL, *back_rx = NULL;
        if (pubsub) {
            back_tx = zmq_socket(ctx, ZMQ_PUB); back_rx = zmq_socket(ctx, ZMQ_SUB);
            secure(back_tx, 1, curve); secure(back_rx, 0, curve);
            zmq_setsockopt(back_rx, ZMQ_SUBSCRIBE, "", 0);
            check(zmq_bind(back_tx, "tcp://127.0.0.1:*"), "bind");
            len = sizeof endpoint; zmq_getsockopt(back_tx, ZMQ_LAST_ENDPOINT, endpoint, &len);
            check(zmq_connect(back_rx, endpoint), "connect");
            for (;;) {
                zmq_send(back_tx, "", 0, 0);
                zmq_pollitem_t item = { back_rx, 0, ZMQ_POLLIN, 0 };
                if (zmq_poll(&item, 1, 20) > 0) { while (zmq_recv(back_rx, buf, size, ZMQ_DONTWAIT) >= 0) {} break; }
            }
        }
        double *samples = malloc(sizeof(double) * count);
        char id[256];
        for (long i = 0; i < count; i++) {
            double t0 = now_s();
            check(zmq_send(tx, buf, size, 0), "send");
            if (pubsub) {
                check(zmq_recv(rx, buf, size, 0), "recv");
                check(zmq_send(back_tx, buf, size, 0), "send back");
                check(zmq_recv(back_rx, buf, size, 0), "recv back");
            } else {
                int n = zmq_recv(rx, id, sizeof id, 0); check(n, "recv id");
                check(zmq_recv(rx, buf, size, 0), "recv");
                check(zmq_send(rx, id, n, ZMQ_SNDMORE), "send id");
                check(zmq_send(rx, buf, size, 0), "send back");
                check(zmq_recv(tx, buf, size, 0), "recv back");
            }
            samples[i] = (now_s() - t0) * 1e6;
        }
        qsort(samples, count, sizeof(double), cmp);
        printf("{\"impl\":\"raw\",\"kind\":\"latency\",\"pattern\":\"%s\",\"size\":%d,\"security\":\"%s\",\"count\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
               argv[2], size, argv[4], count, samples[count / 2], samples[count * 99 / 100]);
    }
    return 0;
}
