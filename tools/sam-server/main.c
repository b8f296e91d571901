/* sam-server: click-to-segment in the browser, and a JSON API for annotation tools. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "http.h"
#include "tool_common.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sam-server --model MODEL [options]\n"
            "\n"
            "Serves a page where you segment your own images by clicking, and a JSON API\n"
            "(POST /api/images, /api/images/ID/predict, /api/images/ID/auto; README: sam-server).\n"
            "Images are encoded once and kept in memory; nothing is written to disk.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE        weight blob from sam-convert (SAM or SAM 2)\n"
            "  -c, --config FILE       variant config (default: the model's own)\n"
            "      --host ADDR         address to listen on (default 127.0.0.1: this machine only)\n"
            "      --port N            port (default 8080; 0: any free port, printed at start)\n"
            "  -t, --threads N         worker threads per predictor (default: one per CPU)\n"
            "      --max-images K      image features kept, least recently used evicted (default 8)\n"
            "      --max-upload-mb M   largest request body (default 50)\n"
            "      --token SECRET      API requests need 'Authorization: Bearer SECRET' (default: none)\n"
            "      --web-dir DIR       the page's files (default: installed with the program)\n"
            "  -h, --help              this help\n"
            "      --version           the library's version\n"
            "\n"
            "Stop it with Ctrl-C (SIGINT) or SIGTERM.\n");
}

/* The page's folder: --web-dir, $SAMRT_WEB_DIR, beside the program once installed
 * (bin/../share/sam-rt/web), the source tree, the install prefix. */
static const char *find_web_dir(const char *given, char *buf, size_t cap)
{
    if (given) return given;
    const char *env = getenv("SAMRT_WEB_DIR");
    if (env && *env) return env;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, cap, "%s/../share/sam-rt/web/index.html", self);
            if (access(buf, R_OK) == 0) {
                buf[strlen(buf) - strlen("/index.html")] = 0;
                return buf;
            }
        }
    }
    snprintf(buf, cap, "%s/index.html", SAMRT_SOURCE_WEB_DIR);
    if (access(buf, R_OK) == 0) return SAMRT_SOURCE_WEB_DIR;
    return SAMRT_INSTALL_WEB_DIR;
}

enum { OPT_HOST = 256, OPT_PORT, OPT_MAX_IMAGES, OPT_MAX_UPLOAD, OPT_TOKEN, OPT_WEB_DIR, OPT_VERSION };

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"model", required_argument, 0, 'm'},          {"config", required_argument, 0, 'c'},
        {"host", required_argument, 0, OPT_HOST},      {"port", required_argument, 0, OPT_PORT},
        {"threads", required_argument, 0, 't'},        {"max-images", required_argument, 0, OPT_MAX_IMAGES},
        {"max-upload-mb", required_argument, 0, OPT_MAX_UPLOAD}, {"token", required_argument, 0, OPT_TOKEN},
        {"web-dir", required_argument, 0, OPT_WEB_DIR}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, OPT_VERSION},      {0, 0, 0, 0},
    };
    const char *model_path = NULL, *config = NULL, *host = "127.0.0.1", *token = NULL, *web_dir = NULL;
    long long port = 8080, threads = 0, max_images = 8, max_upload_mb = 50;
    int c;
    while ((c = getopt_long(argc, argv, "m:c:t:h", options, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'c': config = optarg; break;
        case OPT_HOST: host = optarg; break;
        case OPT_TOKEN: token = optarg; break;
        case OPT_WEB_DIR: web_dir = optarg; break;
        case OPT_PORT: if (!tool_parse_int(optarg, 0, 65535, &port)) bad = "--port needs a port number in 0..65535"; break;
        case 't': if (!tool_parse_int(optarg, 0, 256, &threads)) bad = "--threads needs an integer in 0..256"; break;
        case OPT_MAX_IMAGES: if (!tool_parse_int(optarg, 1, 4096, &max_images)) bad = "--max-images needs an integer in 1..4096"; break;
        case OPT_MAX_UPLOAD: if (!tool_parse_int(optarg, 1, 4096, &max_upload_mb)) bad = "--max-upload-mb needs an integer in 1..4096"; break;
        case 'h': usage(stdout); return 0;
        case OPT_VERSION: printf("sam-server %s\n", sam_version()); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, "sam-server: %s, got '%s'\n", bad, optarg);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sam-server: unexpected argument '%s' (see --help)\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!model_path) {
        fprintf(stderr, "sam-server: --model is required (a blob from sam-convert; see --help)\n");
        return EXIT_USAGE;
    }
    if (token && !*token) {
        fprintf(stderr, "sam-server: --token needs a non-empty secret\n");
        return EXIT_USAGE;
    }
    /* SIGINT and SIGTERM are taken by sigwait below: blocked before any thread starts,
     * so that every thread inherits the mask */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    sam_error err = {0};
    server s = {0};
    web_file *files = NULL;
    int n_files = 0, rc = 1, bound = 0, store_ok = 0, jobs_ok = 0;
    http_server *http = NULL;
    char web_buf[PATH_MAX + 32];
    const char *slash = strrchr(model_path, '/');
    s.model_name = slash ? slash + 1 : model_path;
    s.token = token;
    s.max_upload = (size_t)max_upload_mb << 20;
    sam_model_params mp = sam_model_default_params();
    mp.config_path = config;
    if (web_files_load(find_web_dir(web_dir, web_buf, sizeof web_buf), &files, &n_files, &err)) goto fail;
    if (sam_model_open(model_path, &mp, &s.model, &err)) goto fail;
    if (image_store_init(&s.store, (int)max_images, &err)) goto fail;
    store_ok = 1;
    /* two predictors for uploads and clicks (an upload's encoding does not hold up another
     * user's clicks), and the generator's own */
    if (engines_init(&s.engines, s.model, 2, (int)threads, &err)) goto fail;
    if (jobs_start(&s.jobs, s.model, (int)threads, &s.store, &err)) goto fail;
    jobs_ok = 1;
    if (http_start(&s, files, n_files, host, (int)port, &bound, &http, &err)) goto fail;
    fprintf(stderr, "sam-server: %s (%s %s) on http://%s%s%s:%d/ %s\n", s.model_name, sam_model_family(s.model), sam_model_variant(s.model),
            strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", bound, token ? "(API requests need the token)" : "");
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "sam-server: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "sam-server: %s\n", err.msg);
done:
    http_stop(http); /* no request runs after this */
    if (jobs_ok) jobs_stop(&s.jobs);
    engines_destroy(&s.engines);
    if (store_ok) image_store_destroy(&s.store);
    sam_model_free(s.model);
    web_files_free(files, n_files);
    return rc;
}
