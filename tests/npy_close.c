/* Test aid: exits 0 when two float32 .npy files hold as many values and those agree
 * within a maximum absolute difference (what the CLI tests hold sam-run's outputs to). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../runtime/npy.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: npy_close GOT.npy WANT.npy MAX_ABS\n");
        return 2;
    }
    sam_array a, b;
    sam_error err;
    if (sam_npy_read(argv[1], &a, &err) || sam_npy_read(argv[2], &b, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    int64_t n = sam_array_numel(&a);
    double worst = 0, tol = atof(argv[3]);
    int rc = n != sam_array_numel(&b) || a.dtype != SAM_F32 || b.dtype != SAM_F32;
    if (rc) fprintf(stderr, "%lld values vs %lld, or not both float32\n", (long long)n, (long long)sam_array_numel(&b));
    for (int64_t i = 0; i < n && !rc; i++) {
        double d = fabs((double)((float *)a.data)[i] - ((float *)b.data)[i]);
        if (!(d <= worst)) worst = d;
    }
    if (!rc) {
        printf("max abs %.3g over %lld values\n", worst, (long long)n);
        rc = !(worst <= tol);
    }
    sam_array_free(&a);
    sam_array_free(&b);
    return rc;
}
