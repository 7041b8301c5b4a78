// Written by scripts/pulumi-toolchain into ./shim of a copy of pulumi-random's provider module,
// whose go.mod replaces this module path with ./shim (a nested module missing from the zip).
module github.com/terraform-providers/terraform-provider-random/shim

go 1.22
