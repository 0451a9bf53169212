package main

import (
	"os"
	"testing"

	"github.com/heraldhq/herald/test/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
