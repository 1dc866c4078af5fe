//go:build !linux

package format

func warmKDFMemory(int) {}
