/* diag-watch: follows agor's Diagnostics collector the way a third-party dashboard would.
 *
 * It connects to the collector's PUB with its own CURVE key (an agent or person made with
 * `agor agent add`), subscribes to "diag/", and prints one JSON line per figures frame (every
 * service's health, rates, latency, drops, reconnects) and one per health event (a service going
 * down or up, a link event).
 *
 * Usage: diag-watch HOME KEYFILE [FRAMES]
 *   HOME     the agor home (config.toml and directory/ are read from it)
 *   KEYFILE  this client's secret key file (public_key and secret_key, Z85)
 *   FRAMES   exit after this many figures frames (default 0: run until killed)
 * Exit status: 0 done, 2 bad arguments or files, 3 nothing received for 10 s. */
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/v1/envelope.pb-c.h"
#include "bus/v1/health.pb-c.h"
#include "diagnostics/v1/diagnostics.pb-c.h"

/* Finds `key = "value"` in FILE, inside [SECTION] when SECTION is given. */
static int read_value(const char *file, const char *section, const char *key, char *out, size_t size) {
    FILE *f = fopen(file, "r");
    if (!f) return -1;
    char line[1024], header[256] = "";
    int in_section = section == NULL, found = -1;
    if (section) snprintf(header, sizeof header, "[%s]", section);
    while (fgets(line, sizeof line, f)) {
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '[') { in_section = section && strncmp(s, header, strlen(header)) == 0; continue; }
        if (!in_section || strncmp(s, key, strlen(key)) != 0) continue;
        char *rest = s + strlen(key);
        while (*rest == ' ') rest++;
        if (*rest != '=') continue;
        char *open = strchr(rest, '"'), *close = open ? strchr(open + 1, '"') : NULL;
        if (!open || !close || (size_t)(close - open - 1) >= size) continue;
        memcpy(out, open + 1, close - open - 1);
        out[close - open - 1] = 0;
        found = 0;
        break;
    }
    fclose(f);
    return found;
}

static const char *health_name(Agor__Diagnostics__V1__ServiceHealth h) {
    switch (h) {
    case AGOR__DIAGNOSTICS__V1__SERVICE_HEALTH__SERVICE_HEALTH_UP: return "up";
    case AGOR__DIAGNOSTICS__V1__SERVICE_HEALTH__SERVICE_HEALTH_DOWN: return "down";
    default: return "unknown";
    }
}

static void print_figures(const uint8_t *body, size_t size) {
    Agor__Diagnostics__V1__Figures *f = agor__diagnostics__v1__figures__unpack(NULL, size, body);
    if (!f) { fprintf(stderr, "diag-watch: a figures frame that does not parse; skipped\n"); return; }
    printf("{\"figures\":{\"time_us\":%lld,\"services\":[", (long long)f->time_us);
    for (size_t i = 0; i < f->n_services; i++) {
        Agor__Diagnostics__V1__ServiceSummary *s = f->services[i];
        unsigned long long p99 = s->latency ? (unsigned long long)s->latency->p99_us : 0;
        printf("%s{\"service\":\"%s\",\"health\":\"%s\",\"pid\":%d,\"requests_per_s\":%.1f,\"p99_us\":%llu,"
               "\"dropped_events\":%llu,\"reconnects\":%llu}",
               i ? "," : "", s->service, health_name(s->health), s->pid, s->requests_per_s, p99,
               (unsigned long long)s->dropped_events, (unsigned long long)s->reconnects);
    }
    printf("]}}\n");
    fflush(stdout);
    agor__diagnostics__v1__figures__free_unpacked(f, NULL);
}

static void print_event(const char *type, const uint8_t *body, size_t size) {
    if (strcmp(type, "service.up") == 0 || strcmp(type, "service.down") == 0) {
        Agor__Diagnostics__V1__ServiceState *s = agor__diagnostics__v1__service_state__unpack(NULL, size, body);
        if (!s) return;
        printf("{\"event\":\"%s\",\"service\":\"%s\",\"reason\":\"%s\"}\n", type, s->service, s->reason);
        agor__diagnostics__v1__service_state__free_unpacked(s, NULL);
    } else if (strcmp(type, "link") == 0) {
        Agor__Diagnostics__V1__LinkRecord *l = agor__diagnostics__v1__link_record__unpack(NULL, size, body);
        if (!l) return;
        printf("{\"event\":\"link\",\"service\":\"%s\",\"kind\":\"%s\",\"observer\":\"%s\"}\n",
               l->service, l->event ? l->event->kind : "", l->observer);
        agor__diagnostics__v1__link_record__free_unpacked(l, NULL);
    }
    fflush(stdout);
}

/* One event (envelope + body); returns 1 for a figures frame. */
static int handle(const uint8_t *env_bytes, size_t env_size, const uint8_t *body, size_t body_size) {
    Agor__Bus__V1__Envelope *e = agor__bus__v1__envelope__unpack(NULL, env_size, env_bytes);
    if (!e) { fprintf(stderr, "diag-watch: an envelope that does not parse; skipped\n"); return 0; }
    int figures = 0;
    if (e->kind == AGOR__BUS__V1__KIND__KIND_LIVE && strcmp(e->method, "figures") == 0) {
        print_figures(body, body_size);
        figures = 1;
    } else if (e->kind == AGOR__BUS__V1__KIND__KIND_EVENT) {
        print_event(e->method, body, body_size);
    }
    agor__bus__v1__envelope__free_unpacked(e, NULL);
    return figures;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: diag-watch HOME KEYFILE [FRAMES]\n"); return 2; }
    long frames = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
    char config[4096], cert[4096], endpoint[256], server_key[64], public_key[64], secret_key[64];
    snprintf(config, sizeof config, "%s/config.toml", argv[1]);
    snprintf(cert, sizeof cert, "%s/directory/diagnostics.cert", argv[1]);
    if (read_value(config, "services.diagnostics", "pub", endpoint, sizeof endpoint) < 0
        || read_value(cert, NULL, "public_key", server_key, sizeof server_key) < 0
        || read_value(argv[2], NULL, "public_key", public_key, sizeof public_key) < 0
        || read_value(argv[2], NULL, "secret_key", secret_key, sizeof secret_key) < 0) {
        fprintf(stderr, "diag-watch: cannot read the collector's endpoint and key from %s, or this client's key from %s\n", argv[1], argv[2]);
        return 2;
    }
    void *context = zmq_ctx_new();
    void *sub = zmq_socket(context, ZMQ_SUB);
    int timeout = 10000, linger = 0;
    zmq_setsockopt(sub, ZMQ_CURVE_SERVERKEY, server_key, 40);
    zmq_setsockopt(sub, ZMQ_CURVE_PUBLICKEY, public_key, 40);
    zmq_setsockopt(sub, ZMQ_CURVE_SECRETKEY, secret_key, 40);
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "diag/", 5);
    if (zmq_connect(sub, endpoint) != 0) { fprintf(stderr, "diag-watch: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno())); return 2; }

    long seen = 0;
    while (frames == 0 || seen < frames) {
        zmq_msg_t parts[3];
        int count = 0, more = 1;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, sub, 0) < 0) {
                fprintf(stderr, "diag-watch: nothing from %s for %d s: %s\n", endpoint, timeout / 1000, zmq_strerror(zmq_errno()));
                return 3;
            }
            more = zmq_msg_more(&part);
            if (count < 3) parts[count++] = part; else zmq_msg_close(&part);
        }
        if (count == 3) {
            const uint8_t *env = zmq_msg_data(&parts[1]), *body = zmq_msg_data(&parts[2]);
            size_t env_size = zmq_msg_size(&parts[1]), body_size = zmq_msg_size(&parts[2]);
            Agor__Bus__V1__Envelope *e = agor__bus__v1__envelope__unpack(NULL, env_size, env);
            if (e && e->kind == AGOR__BUS__V1__KIND__KIND_EVENT_BATCH) {
                Agor__Bus__V1__EventBatch *batch = agor__bus__v1__event_batch__unpack(NULL, body_size, body);
                for (size_t i = 0; batch && i < batch->n_items; i++) {
                    seen += handle(batch->items[i]->envelope.data, batch->items[i]->envelope.len,
                                   batch->items[i]->body.data, batch->items[i]->body.len);
                }
                if (batch) agor__bus__v1__event_batch__free_unpacked(batch, NULL);
            } else if (e) {
                seen += handle(env, env_size, body, body_size);
            } else {
                fprintf(stderr, "diag-watch: a frame that is not an agor event; skipped\n");
            }
            if (e) agor__bus__v1__envelope__free_unpacked(e, NULL);
        }
        for (int i = 0; i < count; i++) zmq_msg_close(&parts[i]);
    }
    zmq_close(sub);
    zmq_ctx_term(context);
    return 0;
}
