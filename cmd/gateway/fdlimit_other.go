//go:build !unix

package main

// connectionBudget is MAX_OPEN_CONNECTIONS, or a fixed budget where the file
// limit cannot be read.
func connectionBudget(configured int) int {
	if configured > 0 {
		return configured
	}
	return 8192
}
