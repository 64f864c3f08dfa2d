/* im2col and its adjoint col2im_add for the CPU backend (backend.h's im2col/col2im_add).
 * pjreddie's layout: row = channel*ksize*ksize + ky*ksize + kx, column = y*out_w + x, zero
 * padding. Owns only these two loops; it may not allocate or call the BLAS. */
#ifndef DN_IM2COL_H
#define DN_IM2COL_H

/* col gets (c*ksize*ksize) rows of (out_h*out_w) values. */
void im2col(const float *im, int c, int h, int w, int ksize, int stride, int pad, float *col);
/* Adds the columns back into im. Each image element receives its terms in pjreddie's
 * col2im_cpu order (kernel row, kernel column ascending), so the sums are his bit for bit. */
void col2im_add(const float *col, int c, int h, int w, int ksize, int stride, int pad, float *im);

#endif
