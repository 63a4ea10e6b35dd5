/* Public header of the test sink target (none needed). */
