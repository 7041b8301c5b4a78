module o3site/kube-images

go 1.26.0
