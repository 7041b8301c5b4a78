// Package shim exposes the upstream random provider's internal constructor to pulumi-random.
// Our own few lines (see scripts/pulumi-toolchain.versions); the import path sits under the
// upstream module's tree, so Go's internal-package rule lets it import internal/provider.
package shim

import (
	tfpf "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the upstream Terraform random provider.
func NewProvider() tfpf.Provider { return provider.New() }
