/*
 * Our glue around OpenJPEG for src/jp2/codec.ts: decode a reduced area to interleaved 8-bit
 * samples, encode 8-bit samples. One call at a time (the codec is single-threaded); results
 * live until the next call. Errors leave a one-line message in ojw_last_error().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "openjpeg.h"

static char last_error[200];
/* Why the last call failed: 1 the data (OpenJPEG's message), 2 over the byte budget, 3 memory. */
static int last_code;

const char *ojw_last_error(void) { return last_error; }
int ojw_last_error_code(void) { return last_code; }

static void set_error(const char *msg) {
  size_t n = 0;
  if (!last_code) last_code = 1;
  while (msg[n] && msg[n] != '\n' && n < sizeof last_error - 1) {
    last_error[n] = msg[n];
    n++;
  }
  last_error[n] = 0;
}

/* OpenJPEG reports several errors on the way out; the first says what went wrong. */
static void on_error(const char *msg, void *data) {
  (void)data;
  if (last_error[0]) return;
  if (strstr(msg, "emory")) last_code = 3; /* "Not enough memory ...", "Memory allocation failure ..." */
  set_error(msg);
}

static void quiet(const char *msg, void *data) {
  (void)msg;
  (void)data;
}

/* ---- memory streams ---- */

typedef struct {
  uint8_t *data;
  OPJ_SIZE_T size, pos, cap;
} buffer_t;

static OPJ_SIZE_T buf_read(void *out, OPJ_SIZE_T n, void *user) {
  buffer_t *b = user;
  if (b->pos >= b->size) return (OPJ_SIZE_T)-1;
  if (n > b->size - b->pos) n = b->size - b->pos;
  memcpy(out, b->data + b->pos, n);
  b->pos += n;
  return n;
}

static OPJ_OFF_T buf_skip(OPJ_OFF_T n, void *user) {
  buffer_t *b = user;
  if (n < 0 ? (OPJ_SIZE_T)-n > b->pos : (OPJ_SIZE_T)n > b->size - b->pos) return -1;
  b->pos += n;
  return n;
}

static OPJ_BOOL buf_seek(OPJ_OFF_T to, void *user) {
  buffer_t *b = user;
  if (to < 0 || (OPJ_SIZE_T)to > b->size) return OPJ_FALSE;
  b->pos = (OPJ_SIZE_T)to;
  return OPJ_TRUE;
}

/* Writing: the buffer doubles as needed; the JP2 writer skips ahead and seeks back for box lengths. */
static int reserve(buffer_t *b, OPJ_SIZE_T end) {
  if (end <= b->cap) return 1;
  OPJ_SIZE_T cap = b->cap ? b->cap : 65536;
  while (cap < end) cap *= 2;
  uint8_t *grown = realloc(b->data, cap);
  if (!grown) return 0;
  b->data = grown;
  b->cap = cap;
  return 1;
}

/* Bytes skipped over and never written stay zero. */
static void grow_to(buffer_t *b, OPJ_SIZE_T end) {
  if (end > b->size) {
    memset(b->data + b->size, 0, end - b->size);
    b->size = end;
  }
}

static OPJ_SIZE_T buf_write(void *in, OPJ_SIZE_T n, void *user) {
  buffer_t *b = user;
  if (!reserve(b, b->pos + n)) return (OPJ_SIZE_T)-1;
  grow_to(b, b->pos);
  memcpy(b->data + b->pos, in, n);
  b->pos += n;
  if (b->pos > b->size) b->size = b->pos;
  return n;
}

static OPJ_OFF_T buf_write_skip(OPJ_OFF_T n, void *user) {
  buffer_t *b = user;
  if (n < 0 || !reserve(b, b->pos + (OPJ_SIZE_T)n)) return -1;
  b->pos += (OPJ_SIZE_T)n;
  return n;
}

static opj_stream_t *stream_over(buffer_t *b, OPJ_BOOL input) {
  opj_stream_t *s = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, input);
  if (!s) return NULL;
  opj_stream_set_user_data(s, b, NULL);
  opj_stream_set_user_data_length(s, b->size);
  opj_stream_set_seek_function(s, buf_seek);
  if (input) {
    opj_stream_set_read_function(s, buf_read);
    opj_stream_set_skip_function(s, buf_skip);
  } else {
    opj_stream_set_write_function(s, buf_write);
    opj_stream_set_skip_function(s, buf_write_skip);
  }
  return s;
}

static opj_codec_t *quiet_codec(opj_codec_t *codec) {
  if (codec) {
    opj_set_error_handler(codec, on_error, NULL);
    opj_set_warning_handler(codec, quiet, NULL);
    opj_set_info_handler(codec, quiet, NULL);
  }
  return codec;
}

/* ---- decoding ---- */

/* Read by codec.ts as eight little-endian 32-bit words. */
typedef struct {
  uint32_t width, height, channels;
  uint8_t *data;
  uint8_t *icc;
  uint32_t icc_length;
  uint32_t full_width, full_height;
} result_t;

static result_t result;

typedef struct {
  uint8_t *data;
  uint32_t length;
} encoded_t;

static encoded_t encoded;

/* Frees the last result once codec.ts has copied it out. */
void ojw_release(void) {
  free(result.data);
  free(result.icc);
  memset(&result, 0, sizeof result);
  free(encoded.data);
  memset(&encoded, 0, sizeof encoded);
}


static const uint8_t JP2_SIGNATURE[12] = {0, 0, 0, 12, 'j', 'P', ' ', ' ', 13, 10, 0x87, 10};

static uint8_t to8(int32_t v, const opj_image_comp_t *c) {
  if (c->sgnd) v += 1 << (c->prec - 1);
  if (v <= 0) return 0;
  if (c->prec == 8) return v > 255 ? 255 : (uint8_t)v;
  if (c->prec > 8) {
    v >>= c->prec - 8;
    return v > 255 ? 255 : (uint8_t)v;
  }
  int32_t max = (1 << c->prec) - 1;
  return v >= max ? 255 : (uint8_t)((v * 255 + max / 2) / max);
}

/* Sample of component c at pixel (x, y) of component 0's grid: chroma may be subsampled. */
static int32_t sample_at(const opj_image_t *im, uint32_t c, uint32_t x, uint32_t y) {
  const opj_image_comp_t *k = &im->comps[c], *k0 = &im->comps[0];
  uint32_t cx = x, cy = y;
  if (k->dx != k0->dx || k->dy != k0->dy) {
    uint64_t ax = ((uint64_t)k0->x0 + x) * k0->dx / k->dx, ay = ((uint64_t)k0->y0 + y) * k0->dy / k->dy;
    cx = ax > k->x0 ? (uint32_t)(ax - k->x0) : 0;
    cy = ay > k->y0 ? (uint32_t)(ay - k->y0) : 0;
  }
  if (cx >= k->w) cx = k->w - 1;
  if (cy >= k->h) cy = k->h - 1;
  return k->data[(size_t)cy * k->w + cx];
}

static uint8_t clamp8(double v) { return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5); }

/*
 * Interleaves components into 8-bit gray, gray+alpha, RGB or RGBA. sYCC becomes RGB with the
 * ITU-R BT.601 full-range equations OpenJPEG's opj_decompress uses (color.c); CMYK becomes RGB.
 * Palettes (pclr) and channel definitions (cdef) were already applied by OpenJPEG.
 */
static int interleave(const opj_image_t *im, uint32_t channels, int ycc, int cmyk) {
  uint32_t w = im->comps[0].w, h = im->comps[0].h;
  uint8_t *out = malloc((size_t)w * h * channels);
  if (!out) return 0;
  for (uint32_t y = 0; y < h; y++) {
    uint8_t *row = out + (size_t)y * w * channels;
    for (uint32_t x = 0; x < w; x++) {
      uint8_t *p = row + (size_t)x * channels;
      if (cmyk) {
        double k = 1 - to8(sample_at(im, 3, x, y), &im->comps[3]) / 255.0;
        for (uint32_t c = 0; c < 3; c++) p[c] = clamp8((255 - to8(sample_at(im, c, x, y), &im->comps[c])) * k);
        continue;
      }
      for (uint32_t c = 0; c < channels; c++) p[c] = to8(sample_at(im, c, x, y), &im->comps[c]);
      if (ycc) {
        double Y = p[0], cb = p[1] - 128.0, cr = p[2] - 128.0;
        p[0] = clamp8(Y + 1.402 * cr);
        p[1] = clamp8(Y - 0.344136 * cb - 0.714136 * cr);
        p[2] = clamp8(Y + 1.772 * cb);
      }
    }
  }
  result.data = out;
  result.width = w;
  result.height = h;
  result.channels = channels;
  return 1;
}

/* Output channels: colour components plus one alpha when there is one. */
static uint32_t output_channels(const opj_image_t *im, int cmyk) {
  uint32_t n = im->numcomps;
  if (cmyk) return 3;
  /* Like opj_decompress: a fourth component is alpha; any beyond are dropped. */
  return n > 4 ? 4 : n;
}

/*
 * Decodes `reduce` levels down, only the code-blocks meeting [x0,x1)×[y0,y1) (full-resolution
 * pixels from the image origin; all zero for the whole image). Refuses when the output would
 * exceed max_bytes. Returns the result, or NULL with ojw_last_error() set.
 */
result_t *ojw_decode(const uint8_t *data, uint32_t length, uint32_t reduce, uint32_t x0, uint32_t y0, uint32_t x1,
                     uint32_t y1, double max_bytes) {
  ojw_release();
  last_error[0] = 0;
  last_code = 0;
  OPJ_CODEC_FORMAT format;
  if (length >= 12 && !memcmp(data, JP2_SIGNATURE, 12)) format = OPJ_CODEC_JP2;
  else if (length >= 2 && data[0] == 0xFF && data[1] == 0x4F) format = OPJ_CODEC_J2K;
  else {
    set_error("not a JPEG 2000 file (no JP2 signature box or codestream SOC marker)");
    return NULL;
  }
  buffer_t in = {(uint8_t *)data, length, 0, length};
  opj_stream_t *stream = stream_over(&in, OPJ_TRUE);
  opj_codec_t *codec = quiet_codec(opj_create_decompress(format));
  opj_image_t *im = NULL;
  result_t *ok = NULL;
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  if (!stream || !codec || !opj_setup_decoder(codec, &params)) goto done;
  if (!opj_read_header(stream, codec, &im)) goto done;
  if (im->numcomps == 0 || im->x1 <= im->x0 || im->y1 <= im->y0) {
    set_error("the codestream declares no pixels");
    goto done;
  }
  uint32_t fw = im->x1 - im->x0, fh = im->y1 - im->y0;
  if (x1 || y1) {
    if (x1 > fw) x1 = fw;
    if (y1 > fh) y1 = fh;
    if (x0 >= x1 || y0 >= y1) {
      set_error("the decode area is outside the image");
      goto done;
    }
  }
  if (!opj_set_decoded_resolution_factor(codec, reduce)) goto done;
  if (x1 || y1) {
    if (!opj_set_decode_area(codec, im, (OPJ_INT32)(im->x0 + x0), (OPJ_INT32)(im->y0 + y0),
                             (OPJ_INT32)(im->x0 + x1), (OPJ_INT32)(im->y0 + y1)))
      goto done;
  } else if (!opj_set_decode_area(codec, im, 0, 0, 0, 0)) {
    goto done;
  }
  /* OpenJPEG holds a 32-bit sample per component while decoding; we then hold up to four
     8-bit ones per pixel. Palette expansion happens inside opj_decode, bounded by the
     module's memory limit, and is checked again below. */
  double samples = 0;
  for (uint32_t c = 0; c < im->numcomps; c++) samples += (double)im->comps[c].w * im->comps[c].h;
  double pixels = (double)im->comps[0].w * im->comps[0].h;
  if (samples > max_bytes || pixels * (im->numcomps < 4 ? im->numcomps : 4) > max_bytes) {
    last_code = 2;
    set_error("the decoded area is larger than the decoding budget");
    goto done;
  }
  if (!opj_decode(codec, stream, im) || !opj_end_decompress(codec, stream)) goto done;
  for (uint32_t c = 0; c < im->numcomps; c++) {
    if (!im->comps[c].data || !im->comps[c].w || !im->comps[c].h || im->comps[c].prec < 1 || im->comps[c].prec > 31) {
      set_error("a component has no decoded samples");
      goto done;
    }
  }
  int cmyk = im->color_space == OPJ_CLRSPC_CMYK && im->numcomps >= 4;
  uint32_t channels = output_channels(im, cmyk);
  if ((double)im->comps[0].w * im->comps[0].h * channels > max_bytes) {
    last_code = 2;
    set_error("the decoded area is larger than the decoding budget");
    goto done;
  }
  int ycc = im->numcomps >= 3 &&
            (im->color_space == OPJ_CLRSPC_SYCC ||
             (im->color_space == OPJ_CLRSPC_UNSPECIFIED && (im->comps[1].dx > im->comps[0].dx || im->comps[1].dy > im->comps[0].dy)));
  if (!interleave(im, channels, ycc, cmyk)) {
    last_code = 3;
    set_error("out of memory for the decoded pixels");
    goto done;
  }
  /* A CIELab colr box is passed as a fake 28-byte "profile"; only real ICC profiles go out. */
  if (im->icc_profile_buf && im->icc_profile_len > 128) {
    result.icc = malloc(im->icc_profile_len);
    if (result.icc) {
      memcpy(result.icc, im->icc_profile_buf, im->icc_profile_len);
      result.icc_length = im->icc_profile_len;
    }
  }
  result.full_width = fw;
  result.full_height = fh;
  ok = &result;
done:
  if (!ok && !last_error[0]) set_error("the JPEG 2000 data could not be decoded");
  if (im) opj_image_destroy(im);
  if (codec) opj_destroy_codec(codec);
  if (stream) opj_stream_destroy(stream);
  return ok;
}

/* ---- encoding, one tile at a time so memory follows the tile, not the image ---- */

static struct {
  opj_codec_t *codec;
  opj_stream_t *stream;
  opj_image_t *image;
  buffer_t out;
} enc;

static void encode_reset(void) {
  if (enc.stream) opj_stream_destroy(enc.stream);
  if (enc.codec) opj_destroy_codec(enc.codec);
  if (enc.image) opj_image_destroy(enc.image);
  free(enc.out.data);
  memset(&enc, 0, sizeof enc);
}

/*
 * Starts encoding a width × height image of 8-bit samples (1 gray, 2 gray+alpha, 3 RGB,
 * 4 RGBA). format: 0 J2K, 1 JP2. rate 0 is lossless (reversible 5/3); above, one lossy 9/7
 * layer at that compression ratio. tile 0 for one tile. flags: 1 TLM markers, 2 RPCL order
 * with one tile-part per resolution. Then ojw_encode_tile for each tile in raster order.
 */
int ojw_encode_begin(uint32_t width, uint32_t height, uint32_t channels, uint32_t format, double rate, uint32_t tile,
                     uint32_t levels, uint32_t flags) {
  ojw_release();
  encode_reset();
  last_error[0] = 0;
  last_code = 0;
  if (!width || !height || channels < 1 || channels > 4) {
    set_error("nothing to encode");
    return 0;
  }
  opj_cparameters_t p;
  opj_set_default_encoder_parameters(&p);
  p.tcp_numlayers = 1;
  p.tcp_rates[0] = rate > 1 ? (float)rate : 0;
  p.irreversible = rate > 1;
  p.cp_disto_alloc = 1;
  p.tcp_mct = channels >= 3;
  if (tile) {
    p.tile_size_on = OPJ_TRUE;
    p.cp_tdx = p.cp_tdy = (int)tile;
  }
  /* Each resolution of the smallest tile must keep at least a pixel. */
  uint32_t edge = width < height ? width : height;
  if (tile && tile < edge) edge = tile;
  uint32_t res = levels + 1;
  while (res > 1 && (edge >> (res - 1)) == 0) res--;
  /* Tiles must start on multiples of 2^levels: OpenJPEG 2.5.0's 5/3 encoder corrupts a narrow
     edge tile whose low resolutions are empty (uclouvain/openjpeg#1575). */
  while (res > 1 && tile % (1u << (res - 1))) res--;
  p.numresolution = (int)res;
  if (flags & 2) {
    p.prog_order = OPJ_RPCL;
    p.tp_on = 1;
    p.tp_flag = 'R';
  }
  opj_image_cmptparm_t cp[4];
  memset(cp, 0, sizeof cp);
  for (uint32_t c = 0; c < channels; c++) {
    cp[c].dx = cp[c].dy = 1;
    cp[c].w = width;
    cp[c].h = height;
    cp[c].prec = 8;
  }
  const char *tlm[] = {"TLM=YES", NULL};
  enc.image = opj_image_tile_create(channels, cp, channels >= 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY);
  enc.codec = quiet_codec(opj_create_compress(format ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K));
  enc.stream = stream_over(&enc.out, OPJ_FALSE);
  if (!enc.image || !enc.codec || !enc.stream) goto fail;
  enc.image->x1 = width;
  enc.image->y1 = height;
  if (channels == 2 || channels == 4) enc.image->comps[channels - 1].alpha = 1;
  if (!opj_setup_encoder(enc.codec, &p, enc.image)) goto fail;
  if ((flags & 1) && !opj_encoder_set_extra_options(enc.codec, tlm)) goto fail;
  if (!opj_start_compress(enc.codec, enc.image, enc.stream)) goto fail;
  return 1;
fail:
  if (!last_error[0]) set_error("the encoder could not start");
  encode_reset();
  return 0;
}

/* One tile's samples, planar: all of component 0, then component 1, and so on. */
int ojw_encode_tile(uint32_t index, const uint8_t *samples, uint32_t length) {
  if (enc.codec && opj_write_tile(enc.codec, index, (OPJ_BYTE *)samples, length, enc.stream)) return 1;
  if (!last_error[0]) set_error("a tile could not be encoded");
  encode_reset();
  return 0;
}

encoded_t *ojw_encode_end(void) {
  if (!enc.codec || !opj_end_compress(enc.codec, enc.stream)) {
    if (!last_error[0]) set_error("the encoder could not finish");
    encode_reset();
    return NULL;
  }
  encoded.data = enc.out.data;
  encoded.length = (uint32_t)enc.out.size;
  enc.out.data = NULL;
  encode_reset();
  return &encoded;
}
