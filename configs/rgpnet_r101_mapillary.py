# Short name of configs/rgpnet/rgpnet_r101-d32_2xb6-80k_mapillary-1024x1024.py
_base_ = ['./rgpnet/rgpnet_r101-d32_2xb6-80k_mapillary-1024x1024.py']
