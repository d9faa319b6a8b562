/* font5x7.h - a 5 x 7 pixel bitmap font for the labels of PNG grids (png.c): lower- and
 * upper-case letters, digits, space and - . , : = ( ) / _ + # % ^. Private to model/. */
#ifndef DIFFODE_MODEL_FONT5X7_H
#define DIFFODE_MODEL_FONT5X7_H

enum { FONT5X7_W = 5, FONT5X7_H = 7 };

/* 1 if pixel (row 0..6 from the top, col 0..4 from the left) of character c is ink. A
 * character the font lacks is drawn as a hollow box, so a missing glyph is seen, not
 * silently dropped; out-of-range row or col give 0. */
int font5x7_ink(char c, int row, int col);

#endif
