// Package shim is added by scripts/pulumi-toolchain to a copy of the upstream
// terraform-provider-docker module (pulumi-docker's ../upstream) to expose its internal provider
// constructor, as pulumi-docker's upstream patch does. Our own few lines.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the upstream Terraform docker provider.
func NewProvider() *schema.Provider { return provider.New("dev")() }
