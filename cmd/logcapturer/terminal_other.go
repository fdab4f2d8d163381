//go:build !linux

package main

import "os"

// isTerminal is false off Linux: commands that would ask on a terminal
// want their flag instead (dlq purge --all).
func isTerminal(*os.File) bool { return false }
