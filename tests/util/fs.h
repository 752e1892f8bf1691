/* Test helpers for temporary folders (linked into every test binary). */
#ifndef ILLGAN_TEST_FS_H
#define ILLGAN_TEST_FS_H

/* Removes path and everything below it, without following links; 0 on success (also
 * when path does not exist), -1 otherwise. */
int test_remove_tree(const char *path);

#endif
