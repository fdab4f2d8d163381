package config

// Expand is expand, for the external tests.
var Expand = expand
